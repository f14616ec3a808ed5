/**
 * `pysftpproxy bans list|remove` against running servers: through the admin endpoint when the
 * bans live in the server's memory (users file), in Redis when the store uses Redis. A lifted ban
 * applies to the very next connection.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, localUserSetup, makeTempDir, startProxy, startRedis, type LocalUserSetup, type ProxyHandle, type RedisHandle, type TempDir } from '../harness/index.js';
import { admin, ok, refused } from '../admin/helpers.js';
import { connectFrom, probe, v2Header, writeSegments } from './edge-client.js';
import { adminGet, fleet, startInstance, type Instance } from './instances.js';

let tmp: TempDir;
let setup: LocalUserSetup;

before(async () => {
  tmp = await makeTempDir('bans-command-');
  setup = await localUserSetup(tmp.path);
});
after(async () => { await tmp?.cleanup(); });

const BANNED = 'address banned: too many failed logins';

/** `n` connections from `from` that never log in, then wait for its ban. */
async function banByFailing(proxy: ProxyHandle, from: string, n: number, port = proxy.port): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal(await probe(port, from), 'admitted');
  await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === from);
}

/** Exit 1 (the store or server unreachable), one line on stderr. */
function unavailable(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

describe('bans in the server\'s memory: through its admin endpoint', () => {
  let proxy: ProxyHandle;
  let cli: (...args: string[]) => ReturnType<ReturnType<typeof admin>>;
  before(async () => {
    proxy = await startProxy({ args: [...setup.args, '--defender-threshold', '2', '--admin-listen', '127.0.0.1:0', '--proxy-protocol-from', '127.0.0.9'] });
    const adminPort = (await proxy.waitForLog((l) => l.msg === 'admin endpoint listening'))['port'] as number;
    // The server's own settings, as an operator would pass them (here by environment).
    cli = admin(tmp.path, { SFTPPROXY_STORE: `file:${setup.usersFile}`, SFTPPROXY_MODE: 'local', SFTPPROXY_ADMIN_LISTEN: `127.0.0.1:${adminPort}` });
    await banByFailing(proxy, '127.0.0.2', 2);
    for (const src of ['2001:db8::1', '2001:db8::2', '2001:db8:0:1::1', '2001:db8:0:1::2']) {
      const sock = await connectFrom(proxy.port, '127.0.0.9');
      sock.on('error', () => {});
      await writeSegments(sock, [v2Header({ src, srcPort: 1 })]);
      await new Promise((r) => sock.once('data', r));
      sock.destroy();
      await proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('connection closed') && l['remote'] === `[${src}]:1`);
    }
    await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '2001:db8::/64');
    await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '2001:db8:0:1::/64');
    adminPortOf = adminPort;
  });
  let adminPortOf = 0;
  after(async () => { await proxy?.stop(); });

  test('bans list: a table of the bans, and --json for scripts', async () => {
    const out = ok(await cli('bans', 'list'));
    const [head, ...rows] = out.trimEnd().split('\n');
    assert.match(head!, /^ADDRESS\s+SCORE\s+SINCE\s+UNTIL\s+LEFT$/);
    assert.equal(rows.length, 3, out);
    assert.match(out, /^127\.0\.0\.2\s+2\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d{4}-[\d-]+T[\d:]+Z\s+(?:30m00s|29m\d\ds)$/m);
    assert.match(out, /^2001:db8::\/64\s+2\s/m);
    const json = JSON.parse(ok(await cli('bans', 'list', '--json'))) as Array<{ address: string; score: number; since: string; until: string }>;
    assert.deepEqual(json.map((b) => b.address).sort(), ['127.0.0.2', '2001:db8:0:1::/64', '2001:db8::/64']);
    for (const b of json) assert.equal(Date.parse(b.until) - Date.parse(b.since), 1800_000);
  });

  test('bans remove ADDRESS: lifted at once; the server logs it', async () => {
    assert.equal(await probe(proxy.port, '127.0.0.3'), 'admitted', 'a bystander');
    assert.equal(await probe(proxy.port, '127.0.0.2'), 'closed', 'banned before');
    ok(await cli('bans', 'remove', '127.0.0.2'), /^lifted the ban on 127\.0\.0\.2 in the admin endpoint http:\/\/127\.0\.0\.1:\d+\n$/);
    await proxy.waitForLog((l) => l.msg === 'ban lifted (admin endpoint)' && l['ip'] === '127.0.0.2');
    assert.equal(await probe(proxy.port, '127.0.0.2'), 'admitted', 'the next connection is let in');
    assert.doesNotMatch(ok(await cli('bans', 'list')), /127\.0\.0\.2/);
  });

  test('an IPv6 address names its /64\'s ban, in the CLI and at the endpoint itself', async () => {
    ok(await cli('bans', 'remove', '2001:db8::abcd'), /^lifted the ban on 2001:db8::\/64 \(the ban of 2001:db8::abcd\)/);
    assert.deepEqual(await adminGet(adminPortOf, '/bans/2001:db8:0:1::77', 'DELETE'), { status: 200, body: 'lifted\n' });
    assert.equal((await adminGet(adminPortOf, '/bans/not-an-address', 'DELETE')).status, 400);
    assert.match(ok(await cli('bans', 'list')), /^\(no bans in the admin endpoint/);
  });

  test('refused with one line: not banned, not an address, a stray argument', async () => {
    refused(await cli('bans', 'remove', '127.0.0.2'), /127\.0\.0\.2 is not banned/);
    refused(await cli('bans', 'remove', 'example.com'), /"example\.com" is not an IP address/);
    refused(await cli('bans', 'remove', '2001:db8::/48'), /is not an IP address/);
    refused(await cli('bans', 'list', 'extra'), /usage: pysftpproxy bans list/);
    refused(await cli('bans', 'lift', '127.0.0.2'), /unknown subcommand/);
  });
});

describe('bans in Redis: shared by every instance', () => {
  let redis: RedisHandle;
  let inst: Instance;
  before(async () => {
    redis = await startRedis();
    const dir = join(tmp.path, 'fleet');
    await mkdir(dir);
    inst = await startInstance(await fleet(dir, redis), ['--defender-threshold', '2']);
  });
  after(async () => { await inst?.proxy.stop(); await redis?.close(); });

  test('bans list / remove read and lift the Redis keys; a running instance admits the address at once', async () => {
    const cli = admin(tmp.path, { SFTPPROXY_MODE: 'local', SFTPPROXY_STORE: 'redis-solt', SFTPPROXY_REDIS_PORT: String(redis.port) });
    assert.match(ok(await cli('bans', 'list')), /^\(no bans in redis 127\.0\.0\.1:\d+\/1\)\n$/);
    await banByFailing(inst.proxy, '127.0.0.4', 2);
    assert.match(ok(await cli('bans', 'list')), /^127\.0\.0\.4\s+2\s/m);
    assert.equal(await redis.client(1).exists('pysftpproxy:ban:127.0.0.4'), 1);
    ok(await cli('bans', 'remove', '127.0.0.4'), /^lifted the ban on 127\.0\.0\.4 in redis 127\.0\.0\.1:\d+\/1\n$/);
    assert.equal(await redis.client(1).exists('pysftpproxy:ban:127.0.0.4'), 0);
    assert.equal(await probe(inst.proxy.port, '127.0.0.4'), 'admitted');
  });
});

describe('nowhere to ask', () => {
  test('a users file and no --admin-listen: refused with one line that says what to give', async () => {
    const cli = admin(tmp.path, { SFTPPROXY_STORE: `file:${setup.usersFile}`, SFTPPROXY_MODE: 'local' });
    refused(await cli('bans', 'list'), /give its --admin-listen HOST:PORT/);
  });

  test('no server on the --admin-listen port, no Redis on its port: exit 1, one line', async () => {
    const port = await freePort();
    const viaEndpoint = admin(tmp.path, { SFTPPROXY_STORE: `file:${setup.usersFile}`, SFTPPROXY_MODE: 'local', SFTPPROXY_ADMIN_LISTEN: `0.0.0.0:${port}` });
    unavailable(await viaEndpoint('bans', 'list'), new RegExp(`cannot reach the admin endpoint http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    unavailable(await viaEndpoint('bans', 'remove', '127.0.0.2'), /cannot reach the admin endpoint/);
    const viaRedis = admin(tmp.path, { SFTPPROXY_MODE: 'local', SFTPPROXY_STORE: 'redis-solt', SFTPPROXY_REDIS_PORT: String(port) });
    unavailable(await viaRedis('bans', 'list'), /cannot use redis at 127\.0\.0\.1:\d+\/1: ECONNREFUSED/);
  });

  test('bans --help', async () => {
    const out = ok(await admin(tmp.path)('bans', '--help'));
    assert.match(out, /pysftpproxy bans list \[--json\]/);
    assert.match(out, /pysftpproxy bans remove ADDRESS/);
  });
});
