// Local mode as a solt_sftp operator runs it: the original INI file, users in Redis, changes
// announced on the channel, driven with the real OpenSSH sftp client through our SSH server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  execFileCollect, generateKey, makeTempDir, REPO_ROOT, runSftp, sha256File, startProxy, startRedis, writeKnownHosts,
  writeRandomFile, type GeneratedKey, type ProxyHandle, type RedisHandle, type TempDir,
} from '../harness/index.js';

let tmp: TempDir; let redis: RedisHandle; let server: ProxyHandle;
let key: GeneratedKey; let knownHosts: string; let files: string;

const sftp = (batch: string[]) => runSftp({ port: server.port, user: 'dora', keyPath: key.privatePath, knownHostsPath: knownHosts, batch });
const publish = (id: string) => redis.client(1).publish('sftp_users', id);
/** Polls a login until it gives the wanted result: pub/sub applies changes asynchronously. */
async function eventually(wantOk: boolean): Promise<Awaited<ReturnType<typeof sftp>>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await sftp(['pwd']);
    if ((r.code === 0) === wantOk || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

before(async () => {
  tmp = await makeTempDir('local-mode-');
  files = path.join(tmp.path, 'files');
  key = await generateKey(tmp.path, 'ed25519', 'dora');
  redis = await startRedis();
  // The shipped example config, with only what a test must change overridden by flags.
  server = await startProxy({ args: ['--mode', 'local', '--config', path.join(REPO_ROOT, 'examples/solt_sftp.conf'),
    '--port', '0', '--listen', '127.0.0.1', '--sftp-path', files, '--redis-port', String(redis.port),
    '--data-dir', path.join(tmp.path, 'data')] });
  const hostLine = fs.readFileSync(path.join(tmp.path, 'data', 'ssh_host_ed25519_key.pub'), 'utf8').trim();
  knownHosts = await writeKnownHosts(path.join(tmp.path, 'known_hosts'), hostLine, server.port);
});

after(async () => { await server?.stop(); await redis?.close(); await tmp?.cleanup(); });

test('a user added with the example script logs in at once; the folder is created and written back', async () => {
  assert.notEqual((await sftp(['pwd'])).code, 0, 'unknown before being added');
  const r = await execFileCollect('node', [path.join(REPO_ROOT, 'examples/add-solt-user.mjs'), '7', 'dora', key.publicPath],
    { env: { ...process.env, SFTPPROXY_REDIS_PORT: String(redis.port) } });
  assert.equal(r.code, 0, r.stderr);
  const login = await eventually(true);
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Remote working directory: \/\n/, 'the folder is the client\'s /');
  assert.equal(await redis.client(1).hget('solt.sftp.user.7', 'folder'), 'dora');
  assert.ok(fs.statSync(path.join(files, 'dora')).isDirectory());
});

test('a 20 MiB file goes up and comes back byte-identical, landing in the user folder', async () => {
  const src = path.join(tmp.path, 'big.bin');
  const sum = await writeRandomFile(src, 20 * 1024 * 1024);
  const back = path.join(tmp.path, 'back.bin');
  const r = await sftp([`put ${src} big.bin`, `get big.bin ${back}`, 'rename big.bin kept.bin', 'df', 'ln kept.bin hard.bin', 'ls -l']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha256File(path.join(files, 'dora', 'kept.bin')), sum);
  assert.equal(await sha256File(back), sum);
  assert.equal(fs.statSync(path.join(files, 'dora', 'hard.bin')).ino, fs.statSync(path.join(files, 'dora', 'kept.bin')).ino);
  assert.match(r.stdout, /Size\s+Used\s+Avail/, 'df answered (statvfs@openssh.com)');
});

test('deactivating and removing a key take effect through the channel', async () => {
  const db = redis.client(1);
  await db.hset('solt.sftp.user.7', 'active', 'False');
  await publish('7');
  assert.notEqual((await eventually(false)).code, 0, 'inactive user refused');
  await server.waitForLog((l) => l.msg === 'login refused' && l['reason'] === 'user inactive', 5000);

  await db.hset('solt.sftp.user.7', 'active', 'true');
  await publish('7');
  assert.equal((await eventually(true)).code, 0, 'active again');

  await db.srem('solt.sftp.user.7.keys', key.blobBase64);
  await publish('7');
  assert.notEqual((await eventually(false)).code, 0, 'key removed: refused');
});
