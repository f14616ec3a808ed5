// --workers 2: both processes serve logins on the one port, and the proxy still moves files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  generateKey, makeTempDir, runSftp, sha256File, startProxy, startRedis, startSshd, writeKnownHosts, writeRandomFile,
  type ProxyHandle, type RedisHandle, type SshdHandle, type TempDir,
} from './harness/index.js';

let tmp: TempDir; let redis: RedisHandle; let sshd: SshdHandle; let proxy: ProxyHandle;
let userKey: string; let knownHosts: string;

before(async () => {
  tmp = await makeTempDir('workers-');
  fs.mkdirSync(path.join(tmp.path, 'up'));
  const proxyKey = await generateKey(tmp.path, 'ed25519', 'proxy');
  const user = await generateKey(tmp.path, 'ed25519', 'carol');
  userKey = user.privatePath;
  redis = await startRedis();
  sshd = await startSshd({ authorizedKeys: [proxyKey.publicLine], startDir: path.join(tmp.path, 'up') });
  const db = redis.client(1);
  await db.set(`pysftpproxy:pubkey:${user.blobBase64}`, 'carol');
  await db.hset('pysftpproxy:user:carol', { remote: '127.0.0.1', port: String(sshd.port) });
  proxy = await startProxy({ args: ['--workers', '2'], env: {
    SFTPPROXY_LISTEN: '127.0.0.1', SFTPPROXY_PORT: '0', SFTPPROXY_REDIS_PORT: String(redis.port),
    SFTPPROXY_CLIENT_KEY_PATH: proxyKey.privatePath, SFTPPROXY_DATA_DIR: path.join(tmp.path, 'data'),
  } });
  // Both workers listen before the test starts, so round-robin has two to choose from.
  await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] !== proxy.listeningLog['worker'], 15_000);
  const hostLine = fs.readFileSync(path.join(tmp.path, 'data', 'ssh_host_ed25519_key.pub'), 'utf8').trim();
  knownHosts = await writeKnownHosts(path.join(tmp.path, 'known_hosts'), hostLine, proxy.port);
});

after(async () => {
  await proxy?.stop(); await sshd?.close(); await redis?.close(); await tmp?.cleanup();
});

test('logins are spread over both workers, and each moves its file intact', async () => {
  for (let i = 0; i < 4; i++) {
    const src = path.join(tmp.path, `f${i}`);
    const sum = await writeRandomFile(src, 256 * 1024);
    const r = await runSftp({ port: proxy.port, user: 'carol', keyPath: userKey, knownHostsPath: knownHosts,
      batch: [`put ${src} f${i}`] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(path.join(tmp.path, 'up', `f${i}`)), sum);
  }
  // The proxy's stdout may not have been read yet when the client exits: wait for all four lines.
  let accepted = proxy.logs().filter((l) => l.msg === 'login accepted');
  for (const deadline = Date.now() + 10_000; accepted.length < 4 && Date.now() < deadline; accepted = proxy.logs().filter((l) => l.msg === 'login accepted')) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const workers = new Set(accepted.map((l) => l['worker']));
  assert.deepEqual([...workers].sort(), [1, 2]);
});

test('stopping the primary stops the workers', async () => {
  const workerPids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[3] === String(proxy.pid); } catch { return false; }
  });
  assert.equal(workerPids.length, 2);
  await proxy.stop();
  for (const pid of workerPids) assert.equal(fs.existsSync(`/proc/${pid}`), false, `worker ${pid} still running`);
});
