/**
 * Smoke test of the test harness itself: real redis-server, real sshd, real
 * sftp client; no proxy involved.
 */
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort,
  generateKey,
  isAlive,
  makeTempDir,
  runSftp,
  sha256File,
  startRedis,
  startSshd,
  writeKnownHosts,
  writeRandomFile,
  type RedisHandle,
  type SshdHandle,
  type TempDir,
} from './harness/index.js';

describe('harness', () => {
  test('freePort returns a bindable loopback port', async () => {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `port ${port}`);
  });

  test('redis: set/get, restart on the same port, stop', async (t) => {
    const redis: RedisHandle = await startRedis();
    t.after(() => redis.close());
    const firstPid = redis.pid;
    assert.ok(isAlive(firstPid));
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);

    const c = redis.client(3);
    assert.equal(await c.set('harness:k', 'v1'), 'OK');
    assert.equal(await c.get('harness:k'), 'v1');

    const port = redis.port;
    await redis.stop();
    assert.equal(redis.running, false);
    assert.throws(() => process.kill(firstPid, 0), 'redis still alive after stop()');

    await redis.start();
    assert.equal(redis.port, port);
    assert.notEqual(redis.pid, firstPid);
    // No persistence: the key is gone, but the same client reconnects.
    assert.equal(await c.get('harness:k'), null);
    assert.equal(await c.set('harness:k', 'v2'), 'OK');
    const c2 = redis.client(3);
    assert.equal(await c2.get('harness:k'), 'v2');

    await redis.restart();
    assert.equal(redis.port, port);
    assert.equal(await redis.client(0).ping(), 'PONG');

    const lastPid = redis.pid;
    await redis.close();
    assert.throws(() => process.kill(lastPid, 0), 'redis still alive after close()');
  });

  describe('sshd + sftp client', () => {
    let tmp: TempDir;
    let sshd: SshdHandle;
    let root: string;
    let keyPath: string;
    let knownHostsPath: string;

    before(async () => {
      tmp = await makeTempDir('harness-smoke-');
      root = join(tmp.path, 'root');
      await mkdir(root);
      const key = await generateKey(tmp.path, 'ed25519', 'client');
      assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
      assert.equal(key.publicLine.split(' ')[1], key.blobBase64);
      keyPath = key.privatePath;
      sshd = await startSshd({ startDir: root });
      await sshd.authorize(key.publicLine);
      knownHostsPath = await writeKnownHosts(join(tmp.path, 'known_hosts'), sshd.hostPublicKeyLine, sshd.port);
    });

    after(async () => {
      await sshd?.close();
      await tmp?.cleanup();
    });

    test('host key data is consistent', () => {
      assert.match(sshd.hostPublicKeyLine, /^ssh-ed25519 /);
      assert.match(sshd.hostKeyFingerprint, /^SHA256:/);
      assert.equal(sshd.knownHostsLine(), `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKeyLine.split(' ').slice(0, 2).join(' ')}`);
    });

    test('upload and download a 3 MiB file, verified on disk', async () => {
      const src = join(tmp.path, 'upload.bin');
      const back = join(tmp.path, 'download.bin');
      const digest = await writeRandomFile(src, 3 * 1024 * 1024);
      assert.equal(await sha256File(src), digest);

      const res = await runSftp({
        port: sshd.port,
        user: 'root',
        keyPath,
        knownHostsPath,
        batch: ['mkdir dir', `put ${src} dir/file.bin`, `get dir/file.bin ${back}`, 'ls -l dir'],
        timeoutMs: 20_000,
      });
      assert.equal(res.code, 0, `sftp failed:\n${res.stdout}\n${res.stderr}`);
      assert.equal(res.timedOut, false);
      assert.match(res.stdout, /file\.bin/);

      const onServer = join(root, 'dir', 'file.bin');
      assert.equal((await stat(onServer)).size, 3 * 1024 * 1024);
      assert.equal(await sha256File(onServer), digest);
      assert.equal(await sha256File(back), digest);
      await sshd.waitForLog(/Accepted publickey for root/);
    });

    test('an unknown key is refused (the harness can observe failure)', async () => {
      const other = await generateKey(tmp.path, 'ecdsa', 'stranger');
      const res = await runSftp({ port: sshd.port, keyPath: other.privatePath, knownHostsPath, batch: ['ls'], timeoutMs: 20_000 });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /Permission denied/);
    });

    test('a wrong host key is rejected by StrictHostKeyChecking', async () => {
      const fake = await generateKey(tmp.path, 'ed25519', 'fakehost');
      const kh = await writeKnownHosts(join(tmp.path, 'kh_wrong'), fake.publicLine, sshd.port);
      const res = await runSftp({ port: sshd.port, keyPath, knownHostsPath: kh, batch: ['ls'], timeoutMs: 20_000 });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    });

    test('restart keeps port and host key; stop leaves no process behind', async () => {
      const { port, hostKeyFingerprint } = sshd;
      const oldPid = sshd.pid;
      await sshd.restart();
      assert.equal(sshd.port, port);
      assert.equal(sshd.hostKeyFingerprint, hostKeyFingerprint);
      assert.throws(() => process.kill(oldPid, 0));
      const res = await runSftp({ port, keyPath, knownHostsPath, batch: ['ls dir'], timeoutMs: 20_000 });
      assert.equal(res.code, 0, res.stderr);

      const pid = sshd.pid;
      await sshd.stop();
      assert.equal(sshd.running, false);
      assert.throws(() => process.kill(pid, 0), 'sshd still alive after stop()');
    });
  });
});
