/**
 * The brute-force defender at its edge, on real processes. Attackers are loopback aliases
 * (127.0.0.2, ...); 127.0.0.1 is exempt through the harness's SFTPPROXY_DEFENDER_ALLOW. Scores (see
 * src/ops/defender.ts): a connection that never logs in 1, plus 2 per attempt for an unknown user
 * or key and 1 per refused key. At --defender-threshold 5 an address's fifth such connection is
 * admitted and its sixth is closed at accept, with one 'address banned' line per ban.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Defender } from '../../src/ops/defender.js';
import { offerKeys, signer } from '../hostile/auth-client.js';
import {
  generateKey, localUserSetup, makeTempDir, startProxy, startRedis,
  type GeneratedKey, type LocalUserSetup, type LogLine, type ProxyHandle, type RedisHandle, type TempDir,
} from '../harness/index.js';
import { connectFrom, loginOver, loginWithPrefix, probe, v2Header, writeSegments } from './edge-client.js';
import { adminGet, fleet, startInstance, type Fleet } from './instances.js';

const BANNED = 'address banned: too many failed logins';

let tmp: TempDir;
let setup: LocalUserSetup;
let privateKey: Buffer;
let stranger: GeneratedKey;

before(async () => {
  tmp = await makeTempDir('defender-');
  setup = await localUserSetup(tmp.path);
  privateKey = readFileSync(setup.key.privatePath);
  stranger = await generateKey(tmp.path, 'ed25519', 'stranger');
});
after(async () => { await tmp?.cleanup(); });

/** One connection from `from` that never logs in; waits until the server has seen it close. */
async function failOnce(proxy: ProxyHandle, from: string): Promise<'admitted' | 'closed' | 'timeout'> {
  let localPort = 0;
  const since = proxy.logs().length;
  const r = await probe(proxy.port, from, (p) => { localPort = p; });
  if (r === 'admitted') {
    await proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('connection closed') && l['remote'] === `${from}:${localPort}`, 5000, since);
  }
  return r;
}

/** A connection from `from` whose one attempt is `user` with `key` (refused); resolves once the server has seen it close. */
async function failedAttempt(proxy: ProxyHandle, from: string, user: string, key: GeneratedKey): Promise<void> {
  const since = proxy.logs().length;
  const pem = readFileSync(key.privatePath);
  const r = await offerKeys(proxy.port, user, [{ algo: key.algorithm, blob: Buffer.from(key.blobBase64, 'base64'), sign: signer(pem) }],
    { localAddress: from, closeAfter: true });
  assert.equal(r.authenticated, false);
  await proxy.waitForLog((l) => l.msg === 'connection closed before login' && String(l['remote']).startsWith(`${from}:`), 5000, since);
}

const bansLogged = (proxy: ProxyHandle, ip: string): LogLine[] => proxy.logs().filter((l) => l.msg === BANNED && l['ip'] === ip);

/** A labelled sample, e.g. metric(text, 'pysftpproxy_connections_refused_total', 'reason="banned"'). */
function metric(text: string, name: string, labels?: string): number | undefined {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('--defender-threshold 5 --defender-ban-time 3, shared state in memory', () => {
  let proxy: ProxyHandle;
  let adminPort: number;
  before(async () => {
    proxy = await startProxy({ args: [...setup.args, '--defender-threshold', '5', '--defender-ban-time', '3', '--admin-listen', '127.0.0.1:0'] });
    adminPort = (await proxy.waitForLog((l) => l.msg === 'admin endpoint listening'))['port'] as number;
  });
  after(async () => { await proxy?.stop(); });

  test('five connections that never log in are admitted; the sixth is closed at accept; one line per ban', async () => {
    for (let i = 1; i <= 5; i++) assert.equal(await failOnce(proxy, '127.0.0.2'), 'admitted', `connection ${i} (score ${i - 1} before it)`);
    const ban = await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.2');
    assert.equal(ban['score'], 5);
    const since = proxy.logs().length;
    for (let i = 0; i < 4; i++) assert.equal(await failOnce(proxy, '127.0.0.2'), 'closed', `banned connection ${i + 1}`);
    await sleep(200);
    assert.equal(bansLogged(proxy, '127.0.0.2').length, 1, 'one line per ban, not per connection');
    assert.deepEqual(proxy.logs().slice(since).filter((l) => String(l['remote']).startsWith('127.0.0.2:')), [], 'no SSH work for a banned address');
    const m = (await adminGet(adminPort, '/metrics')).body;
    assert.equal(metric(m, 'pysftpproxy_bans_total'), 1);
    assert.equal(metric(m, 'pysftpproxy_connections_refused_total', 'reason="banned"'), 4);
  });

  test('other addresses are unaffected: 127.0.0.3 is admitted, 127.0.0.1 (allowed) logs in', async () => {
    assert.equal(await failOnce(proxy, '127.0.0.3'), 'admitted');
    const r = await loginWithPrefix(proxy.port, { localAddress: '127.0.0.1', user: setup.name, privateKey });
    assert.equal(r.ok, true, r.error);
    assert.equal(await failOnce(proxy, '127.0.0.2'), 'closed', 'still banned');
  });

  test('after the ban time the address is admitted again, with a new count', async () => {
    const ban = bansLogged(proxy, '127.0.0.2')[0]!;
    await sleep(Math.max(0, (ban.time as number) + 3000 - Date.now()) + 200);
    assert.equal(await failOnce(proxy, '127.0.0.2'), 'admitted', 'the ban is over');
    assert.equal(await failOnce(proxy, '127.0.0.2'), 'admitted', 'the old score went with the ban');
    const r = await loginWithPrefix(proxy.port, { localAddress: '127.0.0.2', user: setup.name, privateKey });
    assert.equal(r.ok, true, r.error);
  });

  test('an attempt for an unknown user scores 2 more (3 for its connection): the second such connection bans', async () => {
    await failedAttempt(proxy, '127.0.0.4', 'nobody', setup.key);
    assert.equal(await failOnce(proxy, '127.0.0.4'), 'admitted', 'score 3, then 4');
    assert.equal(bansLogged(proxy, '127.0.0.4').length, 0);
    await failedAttempt(proxy, '127.0.0.4', 'nobody', setup.key);
    const ban = await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.4');
    assert.equal(ban['score'], 7);
    assert.equal(await failOnce(proxy, '127.0.0.4'), 'closed');
  });

  test('a refused key scores 1 more (2 for its connection)', async () => {
    await failedAttempt(proxy, '127.0.0.5', setup.name, stranger);
    await failedAttempt(proxy, '127.0.0.5', setup.name, stranger);
    assert.equal(await failOnce(proxy, '127.0.0.5'), 'admitted', 'score 4 before this one');
    await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.5' && l['score'] === 5);
    assert.equal(await failOnce(proxy, '127.0.0.5'), 'closed');
  });

  test('a connection that logs in after refused attempts scores nothing', async () => {
    const pem = readFileSync(setup.key.privatePath);
    for (let i = 0; i < 4; i++) {
      const r = await offerKeys(proxy.port, setup.name, [
        { algo: stranger.algorithm, blob: Buffer.from(stranger.blobBase64, 'base64'), sign: signer(readFileSync(stranger.privatePath)) },
        { algo: setup.key.algorithm, blob: Buffer.from(setup.key.blobBase64, 'base64'), sign: signer(pem) },
      ], { localAddress: '127.0.0.6', closeAfter: true });
      assert.equal(r.authenticated, true);
    }
    assert.equal(await failOnce(proxy, '127.0.0.6'), 'admitted');
    await sleep(200);
    assert.equal(bansLogged(proxy, '127.0.0.6').length, 0);
  });
});

describe('--defender off, --defender-allow', () => {
  test('--defender off: an address failing far past the threshold is never banned', async (t) => {
    const proxy = await startProxy({ args: [...setup.args, '--defender', 'off', '--defender-threshold', '2'] });
    t.after(() => proxy.stop());
    for (let i = 0; i < 5; i++) assert.equal(await failOnce(proxy, '127.0.0.2'), 'admitted', `connection ${i + 1}`);
    assert.equal(bansLogged(proxy, '127.0.0.2').length, 0);
  });

  test('--defender-allow exempts its addresses, and only those', async (t) => {
    const proxy = await startProxy({ args: [...setup.args, '--defender-threshold', '2', '--defender-allow', '127.0.0.8/31'] });
    t.after(() => proxy.stop());
    for (let i = 0; i < 4; i++) assert.equal(await failOnce(proxy, '127.0.0.9'), 'admitted', `allowed address, connection ${i + 1}`);
    for (let i = 0; i < 2; i++) assert.equal(await failOnce(proxy, '127.0.0.10'), 'admitted');
    await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.10');
    assert.equal(await failOnce(proxy, '127.0.0.10'), 'closed', 'an address outside the allowed range is banned');
    assert.equal(bansLogged(proxy, '127.0.0.9').length, 0);
  });
});

describe('IPv6 clients are scored and banned by their /64', () => {
  test('keyOf: one /64 is one key; IPv4-mapped addresses are IPv4', () => {
    assert.equal(Defender.keyOf('2001:db8:0:0:1:2:3:4'), '2001:db8::/64');
    assert.equal(Defender.keyOf('2001:db8::ffff'), '2001:db8::/64');
    assert.equal(Defender.keyOf('2001:db8:0:1::1'), '2001:db8:0:1::/64');
    assert.equal(Defender.keyOf('::ffff:127.0.0.2'), '127.0.0.2');
    assert.equal(Defender.keyOf('::1'), '::/64');
    assert.equal(Defender.keyOf('127.0.0.2'), '127.0.0.2');
  });

  test('through PROXY headers: two addresses of one /64 add up; another /64 is unaffected', async (t) => {
    const proxy = await startProxy({ args: [...setup.args, '--defender-threshold', '3', '--proxy-protocol-from', '127.0.0.9'] });
    t.after(() => proxy.stop());
    const viaHeader = async (src: string): Promise<'admitted' | 'closed'> => {
      const since = proxy.logs().length;
      const sock = await connectFrom(proxy.port, '127.0.0.9');
      sock.on('error', () => {});
      const closed = new Promise<'closed'>((r) => sock.once('close', () => r('closed')));
      const banner = new Promise<'admitted'>((r) => sock.once('data', () => r('admitted')));
      await writeSegments(sock, [v2Header({ src, srcPort: 1000 })]);
      const r = await Promise.race([closed, banner]);
      sock.destroy();
      if (r === 'admitted') {
        await proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('connection closed') && l['remote'] === `[${src}]:1000`, 5000, since);
      }
      return r;
    };
    assert.equal(await viaHeader('2001:db8::1'), 'admitted');
    assert.equal(await viaHeader('2001:db8::2'), 'admitted');
    assert.equal(await viaHeader('2001:db8::3:4'), 'admitted');
    await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '2001:db8::/64');
    assert.equal(await viaHeader('2001:db8::99'), 'closed', 'the whole /64 is banned');
    assert.equal(await viaHeader('2001:db8:0:1::1'), 'admitted', 'the next /64 is not');
    const sock = await connectFrom(proxy.port, '127.0.0.9');
    await writeSegments(sock, [v2Header({ src: '2001:db8:0:2::1', srcPort: 5 })]);
    assert.equal((await loginOver(sock, setup.name, privateKey)).ok, true, 'a client of another /64 logs in');
  });
});

describe('Redis: every instance sees the same bans, and they survive a restart', () => {
  let redis: RedisHandle;
  let f: Fleet;
  before(async () => {
    redis = await startRedis();
    const dir = join(tmp.path, 'fleet');
    await mkdir(dir);
    f = await fleet(dir, redis);
  });
  after(async () => { await redis?.close(); });

  test('scores add up across two instances; the ban made by one closes the address on the other; it outlives a restart', { timeout: 60_000 }, async () => {
    const args = ['--defender-threshold', '5', '--defender-ban-time', '60'];
    const a = await startInstance(f, args);
    let b = await startInstance(f, args);
    try {
      for (let i = 0; i < 3; i++) assert.equal(await failOnce(a.proxy, '127.0.0.2'), 'admitted');
      assert.equal(await failOnce(b.proxy, '127.0.0.2'), 'admitted');
      assert.equal(await failOnce(b.proxy, '127.0.0.2'), 'admitted', 'the fifth, on the other instance');
      const ban = await b.proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.2');
      assert.equal(ban['score'], 5);
      assert.equal(await failOnce(a.proxy, '127.0.0.2'), 'closed', 'banned on the instance that did not see the fifth');
      assert.equal(await failOnce(b.proxy, '127.0.0.2'), 'closed');
      assert.equal(bansLogged(a.proxy, '127.0.0.2').length, 0, 'one line per ban across instances');
      assert.equal(await failOnce(a.proxy, '127.0.0.3'), 'admitted');

      await b.proxy.stop();
      b = await startInstance(f, args);
      assert.equal(await failOnce(b.proxy, '127.0.0.2'), 'closed', 'the ban survived the restart');
      const r = await loginWithPrefix(b.proxy.port, { localAddress: '127.0.0.3', user: 'dora', privateKey: f.privateKey });
      assert.equal(r.ok, true, r.error);
    } finally {
      await a.proxy.stop();
      await b.proxy.stop();
    }
  });
  test('Redis down: the defender fails open and says so once; with Redis back it bans again', { timeout: 60_000 }, async () => {
    const inst = await startInstance(f, ['--defender-threshold', '2']);
    try {
      const since = inst.proxy.logs().length;
      await redis.stop();
      await inst.proxy.waitForLog((l) => String(l.msg).startsWith('redis unavailable'), 10_000, since);
      for (let i = 0; i < 4; i++) assert.equal(await failOnce(inst.proxy, '127.0.0.6'), 'admitted', `connection ${i + 1} while Redis is down`);
      const lines = inst.proxy.logs().slice(since);
      assert.equal(lines.filter((l) => l.msg === 'brute-force defender: scores cannot be counted (store unavailable)').length, 1, 'said once');
      assert.equal(lines.filter((l) => l.msg === 'brute-force bans: redis unavailable, not enforced until it is back').length, 1, 'said once');
      assert.equal(bansLogged(inst.proxy, '127.0.0.6').length, 0);
      await redis.start();
      await inst.proxy.waitForLog((l) => l.msg === 'redis available again', 15_000, since);
      for (let i = 0; i < 2; i++) assert.equal(await failOnce(inst.proxy, '127.0.0.6'), 'admitted');
      await inst.proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.6');
      assert.equal(await failOnce(inst.proxy, '127.0.0.6'), 'closed');
    } finally {
      await inst.proxy.stop();
    }
  });
});

describe('--workers 2 without Redis: the primary holds the bans for both workers', () => {
  test('a ban made through one worker closes the address on the other', { timeout: 60_000 }, async (t) => {
    const proxy = await startProxy({ args: [...setup.args, '--workers', '2', '--defender-threshold', '4', '--admin-listen', '127.0.0.1:0'] });
    t.after(() => proxy.stop());
    const adminPort = (await proxy.waitForLog((l) => l.msg === 'admin endpoint listening'))['port'] as number;
    await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] === 1);
    await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] === 2);
    for (let i = 0; i < 4; i++) assert.equal(await failOnce(proxy, '127.0.0.2'), 'admitted', `connection ${i + 1}`);
    const workers = new Set(proxy.logs().filter((l) => l.msg === 'connection' && String(l['remote']).startsWith('127.0.0.2:')).map((l) => l['worker']));
    assert.deepEqual([...workers].sort(), [1, 2], 'both workers scored connections');
    const ban = await proxy.waitForLog((l) => l.msg === BANNED && l['ip'] === '127.0.0.2');
    assert.equal(ban['score'], 4, 'the scores of both workers added up');
    for (let i = 0; i < 6; i++) assert.equal(await failOnce(proxy, '127.0.0.2'), 'closed', `banned connection ${i + 1}`);
    const m = (await adminGet(adminPort, '/metrics')).body;
    assert.equal(metric(m, 'pysftpproxy_connections_refused_total', 'reason="banned"'), 6, 'refused by both workers (round robin)');
    assert.equal(metric(m, 'pysftpproxy_bans_total'), 1);
    assert.equal(await failOnce(proxy, '127.0.0.3'), 'admitted');
  });
});
