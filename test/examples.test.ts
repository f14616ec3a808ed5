// The shipped examples and deployment files are kept true by running or reading them here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { OPTIONS } from '../src/config/options.js';
import { execFileCollect, generateKey, makeTempDir, REPO_ROOT, startRedis, type RedisHandle, type TempDir } from './harness/index.js';

let redis: RedisHandle; let tmp: TempDir;
before(async () => { redis = await startRedis(); tmp = await makeTempDir('examples-'); });
after(async () => { await redis?.close(); await tmp?.cleanup(); });

test('add-proxy-user.mjs writes the key (blob only) and the route the proxy reads', async () => {
  const key = await generateKey(tmp.path, 'ed25519', 'bob');
  const r = await execFileCollect('node', [path.join(REPO_ROOT, 'examples/add-proxy-user.mjs'), 'bob', key.publicPath,
    'sftp-bob', '2222', 'data', '/srv/bob'], { env: { ...process.env, SFTPPROXY_REDIS_PORT: String(redis.port) } });
  assert.equal(r.code, 0, r.stderr);
  const db = redis.client(1);
  assert.equal(await db.get(`pysftpproxy:pubkey:${key.blobBase64}`), 'bob');
  assert.deepEqual(await db.hgetall('pysftpproxy:user:bob'), { remote: 'sftp-bob', port: '2222', user: 'data', home: '/srv/bob' });
});

test('add-proxy-user.mjs refuses a file that is not a public key line', async () => {
  const bad = path.join(tmp.path, 'not-a-key.pub');
  fs.writeFileSync(bad, 'hello\n');
  const r = await execFileCollect('node', [path.join(REPO_ROOT, 'examples/add-proxy-user.mjs'), 'x', bad, 'h'],
    { env: { ...process.env, SFTPPROXY_REDIS_PORT: String(redis.port) } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not an OpenSSH public key line/);
});

test('docker_properties.sh and the README name every SFTPPROXY_ option', () => {
  const props = fs.readFileSync(path.join(REPO_ROOT, 'docker_properties.sh'), 'utf8');
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const missing = OPTIONS.flatMap((o) => [
    ...(props.includes(`${o.env}=`) ? [] : [`${o.env} in docker_properties.sh`]),
    ...(readme.includes(o.env) ? [] : [`${o.env} in README.md`]),
  ]);
  assert.deepEqual(missing, []);
});
