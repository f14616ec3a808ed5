/**
 * The admin CLI against running servers: a change made with `pysftpproxy users|keys` applies to
 * the next login without a restart, through the change notice (solt schema), the file's reload
 * (users file) or the read at every login (pysftpproxy schema). Real sftp logins through our
 * server; the server's log says why each refused login was refused.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  generateKey, makeTempDir, productKnownHosts, runSftp, startProxy, startRedis,
  type GeneratedKey, type ProxyHandle, type RedisHandle, type SftpResult, type TempDir,
} from '../harness/index.js';
import { admin, ok } from './helpers.js';

let tmp: TempDir; let redis: RedisHandle; let dora: GeneratedKey; let spare: GeneratedKey;

before(async () => {
  tmp = await makeTempDir('admin-live-');
  [dora, spare] = await Promise.all([generateKey(tmp.path, 'ed25519', 'dora'), generateKey(tmp.path, 'ecdsa', 'spare')]);
  redis = await startRedis();
});
after(async () => { await redis?.close(); await tmp?.cleanup(); });

interface Live {
  server: ProxyHandle;
  login(key?: GeneratedKey): Promise<SftpResult>;
  /** Logs in until the result is `wantOk` (changes reach the server asynchronously), within 15 s. */
  eventually(wantOk: boolean, key?: GeneratedKey): Promise<SftpResult>;
}

async function serve(name: string, args: string[]): Promise<Live> {
  const dataDir = join(tmp.path, `data-${name}`);
  const server = await startProxy({ args: [...args, '--port', '0', '--listen', '127.0.0.1', '--data-dir', dataDir], cwd: tmp.path });
  await mkdir(join(tmp.path, `kh-${name}`));
  const knownHosts = await productKnownHosts(join(tmp.path, `kh-${name}`), dataDir, server.port);
  const login = (key = dora): Promise<SftpResult> =>
    runSftp({ port: server.port, user: 'dora', keyPath: key.privatePath, knownHostsPath: knownHosts, batch: ['pwd'], timeoutMs: 10_000 });
  const eventually = async (wantOk: boolean, key = dora): Promise<SftpResult> => {
    const deadline = Date.now() + 15_000; // generous: logins are slow on a loaded 2-core machine
    for (;;) {
      const r = await login(key);
      if ((r.code === 0) === wantOk || Date.now() > deadline) return r;
      await sleep(100);
    }
  };
  return { server, login, eventually };
}

/**
 * A login refused for `reason` since `since`. The first failing login may not be it: one accepted
 * a moment before the change arrived is revoked instead (a 'session revoked' line, no refusal),
 * so try again until the refusal is logged.
 */
async function refusedFor(live: Live, reason: RegExp, since: number, key?: GeneratedKey): Promise<void> {
  const refused = () => live.server.logs().slice(since)
    .some((l) => l.msg === 'login refused' && l['user'] === 'dora' && reason.test(String(l['reason'])));
  const deadline = Date.now() + 15_000;
  while (!refused()) {
    assert.ok(Date.now() < deadline, `no login refused for ${reason} within 15 s`);
    assert.notEqual((await live.login(key)).code, 0, 'refused once the change applied');
  }
}

describe('changes reach a running server', () => {
  test('local mode, solt schema: users add, disable, enable and keys remove apply to the next login', async (t) => {
    const files = join(tmp.path, 'solt-files');
    const live = await serve('solt', ['--mode', 'local', '--redis-port', String(redis.port), '--sftp-path', files]);
    t.after(() => live.server.stop());
    const cli = admin(tmp.path, { SFTPPROXY_REDIS_PORT: String(redis.port), SFTPPROXY_MODE: 'local' });

    ok(await cli('users', 'add', 'dora', '--key', dora.publicPath, '--key', spare.publicPath));
    const first = await live.eventually(true);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Remote working directory: \//);

    let mark = live.server.logs().length;
    ok(await cli('users', 'disable', 'dora'));
    assert.notEqual((await live.eventually(false)).code, 0, 'disabled: refused');
    await refusedFor(live, /user inactive/, mark);

    ok(await cli('users', 'enable', 'dora'));
    assert.equal((await live.eventually(true)).code, 0, 'enabled again');

    mark = live.server.logs().length;
    ok(await cli('keys', 'remove', 'dora', dora.fingerprint));
    assert.notEqual((await live.eventually(false)).code, 0, 'key removed: refused');
    await refusedFor(live, /public key not registered for this user/, mark);
    assert.equal((await live.login(spare)).code, 0, 'the other key still logs in');
  });

  test('local mode, users file: disable and keys remove apply through the file\'s reload', async (t) => {
    const file = join(tmp.path, 'live-users.json');
    const files = join(tmp.path, 'file-files');
    const cli = admin(tmp.path, { SFTPPROXY_STORE: `file:${file}`, SFTPPROXY_MODE: 'local', SFTPPROXY_SFTP_PATH: files });
    ok(await cli('users', 'add', 'dora', '--key', dora.publicPath, '--key', spare.publicPath));
    const live = await serve('file', ['--mode', 'local', '--store', `file:${file}`, '--sftp-path', files]);
    t.after(() => live.server.stop());
    assert.equal((await live.login()).code, 0, 'added before the start: in');

    let mark = live.server.logs().length;
    ok(await cli('users', 'disable', 'dora'));
    assert.notEqual((await live.eventually(false)).code, 0, 'disabled: refused');
    await refusedFor(live, /user disabled \("active": false/, mark);
    ok(await cli('users', 'enable', 'dora'));
    assert.equal((await live.eventually(true)).code, 0, 'enabled again');

    mark = live.server.logs().length;
    ok(await cli('keys', 'remove', 'dora', dora.publicPath));
    assert.notEqual((await live.eventually(false)).code, 0, 'key removed: refused');
    await refusedFor(live, /public key not registered for this user/, mark);
    assert.equal((await live.login(spare)).code, 0, 'the other key still logs in');
    assert.equal(live.server.logs().filter((l) => l.msg === 'users file rejected: keeping the previous users').length, 0, 'every file the CLI wrote was accepted');
  });

  test('proxy mode, pysftpproxy schema: a disabled user is refused before any upstream is tried', async (t) => {
    const clientKey = await generateKey(tmp.path, 'ed25519', 'upstream_client');
    const live = await serve('proxy', ['--mode', 'proxy', '--redis-port', String(redis.port), '--client-key-path', clientKey.privatePath,
      '--connect-timeout', '2']);
    t.after(() => live.server.stop());
    const cli = admin(tmp.path, { SFTPPROXY_REDIS_PORT: String(redis.port) });
    // Port 1 on loopback refuses at once: an accepted login ends there, a refused one never gets that far.
    ok(await cli('users', 'add', 'dora', '--key', dora.publicPath, '--remote', '127.0.0.1', '--port', '1'));
    let mark = live.server.logs().length;
    await live.login();
    await live.server.waitForLog((l) => l.msg === 'login accepted' && l['user'] === 'dora' && l['upstream'] === 'root@127.0.0.1:1', 5000, mark);

    mark = live.server.logs().length;
    ok(await cli('users', 'disable', 'dora'));
    assert.notEqual((await live.login()).code, 0);
    await refusedFor(live, /user disabled \(pysftpproxy:user:dora field "active" "false"\)/, mark);
    assert.equal(live.server.logs().slice(mark).filter((l) => l.msg === 'login accepted').length, 0, 'no login accepted while disabled');

    ok(await cli('users', 'enable', 'dora'));
    mark = live.server.logs().length;
    await live.login();
    await live.server.waitForLog((l) => l.msg === 'login accepted' && l['user'] === 'dora', 5000, mark);
  });
});
