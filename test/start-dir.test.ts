// The route's `home` (and SFTPPROXY_HOME) decide where a proxied client starts, with the real
// OpenSSH client against a real sshd whose own start directory is elsewhere.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  generateKey, makeTempDir, runSftp, startProxy, startRedis, startSshd, writeKnownHosts,
  type ProxyHandle, type RedisHandle, type SshdHandle, type TempDir,
} from './harness/index.js';

let tmp: TempDir; let redis: RedisHandle; let sshd: SshdHandle; let proxy: ProxyHandle;
let userKey: string; let knownHosts: string;
const sshdStart = () => path.join(tmp.path, 'login-dir');
const home = () => path.join(tmp.path, 'project', 'incoming');

before(async () => {
  tmp = await makeTempDir('start-dir-');
  fs.mkdirSync(sshdStart()); fs.mkdirSync(home(), { recursive: true });
  const proxyKey = await generateKey(tmp.path, 'ed25519', 'proxy');
  const user = await generateKey(tmp.path, 'ed25519', 'alice');
  userKey = user.privatePath;
  redis = await startRedis();
  // No ForceCommand -d: the sshd's own start directory is root's home, so the start dir is the proxy's doing.
  sshd = await startSshd({ authorizedKeys: [proxyKey.publicLine] });
  const db = redis.client(1);
  await db.set(`pysftpproxy:pubkey:${user.blobBase64}`, 'alice');
  await db.hset('pysftpproxy:user:alice', { remote: '127.0.0.1', port: String(sshd.port), user: 'root', home: home() });
  proxy = await startProxy({ env: {
    SFTPPROXY_LISTEN: '127.0.0.1', SFTPPROXY_PORT: '0', SFTPPROXY_REDIS_PORT: String(redis.port),
    SFTPPROXY_CLIENT_KEY_PATH: proxyKey.privatePath, SFTPPROXY_DATA_DIR: path.join(tmp.path, 'data'),
  } });
  const hostLine = fs.readFileSync(path.join(tmp.path, 'data', 'ssh_host_ed25519_key.pub'), 'utf8').trim();
  knownHosts = await writeKnownHosts(path.join(tmp.path, 'known_hosts'), hostLine, proxy.port);
});

after(async () => {
  await proxy?.stop(); await sshd?.close(); await redis?.close(); await tmp?.cleanup();
});

test('the client starts in the route home: pwd shows it and a relative put lands there', async () => {
  fs.writeFileSync(path.join(tmp.path, 'note.txt'), 'hello');
  const r = await runSftp({ port: proxy.port, user: 'alice', keyPath: userKey, knownHostsPath: knownHosts,
    batch: ['pwd', `put ${path.join(tmp.path, 'note.txt')} note.txt`] });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Remote working directory: ${home()}\\n`));
  assert.equal(fs.readFileSync(path.join(home(), 'note.txt'), 'utf8'), 'hello');
});
