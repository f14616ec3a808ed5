/**
 * Proxy mode end to end, the happy paths: real redis-server, two real sshd
 * upstreams, the proxy, and two real clients (OpenSSH sftp in batch mode and
 * the ssh2 npm client).
 *  - multi-MB put/get/rename/mkdir/rmdir/ls, checked on the upstream's disk and
 *    by the downloaded copy; `session end` carries the byte counters;
 *  - two users routed to two upstreams transferring at the same time;
 *  - a route change in Redis applies to the next login without a restart.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type ssh2 from 'ssh2';
import { sha256File, writeRandomFile } from '../harness/index.js';
import { ProxyStack, type Upstream } from './stack.js';

const MiB = 1024 * 1024;

/** sftp -b output without the echoed `sftp> command` lines. */
function listing(stdout: string): string {
  return stdout.split('\n').filter((l) => !l.startsWith('sftp>')).join('\n');
}

describe('proxy round trip', () => {
  let stack: ProxyStack;
  let upA: Upstream;
  let upB: Upstream;

  before(async () => {
    stack = await ProxyStack.start({ upstreams: 2 });
    [upA, upB] = stack.upstreams as [Upstream, Upstream];
  });
  after(() => stack?.close());

  test('OpenSSH sftp: 8 MiB put/ls/rename/get, then rm/rmdir, verified on the upstream disk', async () => {
    const user = await stack.addUser('rt', { upstream: upA });
    const local = join(stack.localDir, 'rt-big.bin');
    const size = 8 * MiB;
    const digest = await writeRandomFile(local, size);
    const back = join(stack.localDir, 'rt-big.back');
    const since = stack.proxy.mark();

    const res = await stack.sftp(user, [
      'mkdir rtdir',
      `put ${local} rtdir/big.bin`,
      'ls -l rtdir',
      'rename rtdir/big.bin rtdir/renamed.bin',
      `get rtdir/renamed.bin ${back}`,
      'ls -l rtdir',
    ]);
    assert.equal(res.code, 0, `sftp failed:\n${res.stderr}\n${res.stdout}`);
    // Output without the echoed batch commands: the two `ls -l rtdir` listings.
    const listed = listing(res.stdout);
    assert.match(listed, new RegExp(`\\s${size}\\s.*big\\.bin$`, 'm'), `ls shows the uploaded file:\n${listed}`);
    assert.match(listed, new RegExp(`\\s${size}\\s.*renamed\\.bin$`, 'm'), `ls shows the renamed file:\n${listed}`);

    const onDisk = join(upA.dir, 'rtdir', 'renamed.bin');
    assert.equal((await stat(onDisk)).size, size);
    assert.equal(await sha256File(onDisk), digest, 'upstream copy differs from the original');
    assert.equal(existsSync(join(upA.dir, 'rtdir', 'big.bin')), false, 'rename left the old name behind');
    assert.equal(await sha256File(back), digest, 'downloaded copy differs from the original');
    assert.equal(existsSync(join(upB.dir, 'rtdir')), false, 'the other upstream got something');

    const accepted = await stack.proxy.waitFor((l) => l.msg === 'login accepted' && l.user === user.name, since);
    assert.equal(accepted.upstream, `root@127.0.0.1:${upA.sshd.port}`);
    const end = await stack.proxy.waitSessionEnd(user.name, since);
    assert.ok(typeof end.bytesUp === 'number' && end.bytesUp >= size, `bytesUp ${String(end.bytesUp)} < ${size}`);
    assert.ok(typeof end.bytesDown === 'number' && end.bytesDown >= size, `bytesDown ${String(end.bytesDown)} < ${size}`);
    assert.ok(typeof end.durationMs === 'number');

    const res2 = await stack.sftp(user, ['rm rtdir/renamed.bin', 'rmdir rtdir', 'ls -l']);
    assert.equal(res2.code, 0, `sftp rm/rmdir failed:\n${res2.stderr}`);
    assert.equal(existsSync(join(upA.dir, 'rtdir')), false, 'rmdir did not remove the directory upstream');
    assert.doesNotMatch(listing(res2.stdout), /rtdir/);
  });

  test('ssh2 client: 8 MiB fastPut/readdir/rename/fastGet/unlink/rmdir, verified on the upstream disk', async () => {
    const user = await stack.addUser('rt2', { upstream: upA });
    const local = join(stack.localDir, 'rt2-big.bin');
    const size = 8 * MiB;
    const digest = await writeRandomFile(local, size);
    const back = join(stack.localDir, 'rt2-big.back');
    const since = stack.proxy.mark();

    const client = await stack.ssh2({ user: user.name, privateKey: readFileSync(user.key.privatePath) });
    try {
      const sftp = await ProxyStack.sftpOf(client);
      const call = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
        new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

      await call<void>((cb) => sftp.mkdir('rt2dir', cb));
      await call<void>((cb) => sftp.fastPut(local, 'rt2dir/up.bin', cb));
      const names = await call<{ filename: string; attrs: { size: number } }[]>((cb) => sftp.readdir('rt2dir', cb));
      assert.deepEqual(names.map((n) => [n.filename, n.attrs.size]), [['up.bin', size]]);
      assert.equal(await sha256File(join(upA.dir, 'rt2dir', 'up.bin')), digest, 'upstream copy differs');

      await call<void>((cb) => sftp.rename('rt2dir/up.bin', 'rt2dir/moved.bin', cb));
      assert.ok(existsSync(join(upA.dir, 'rt2dir', 'moved.bin')));
      assert.equal(existsSync(join(upA.dir, 'rt2dir', 'up.bin')), false);

      await call<void>((cb) => sftp.fastGet('rt2dir/moved.bin', back, cb));
      assert.equal(await sha256File(back), digest, 'downloaded copy differs');

      await call<void>((cb) => sftp.unlink('rt2dir/moved.bin', cb));
      await call<void>((cb) => sftp.rmdir('rt2dir', cb));
      assert.equal(existsSync(join(upA.dir, 'rt2dir')), false, 'rmdir did not remove the directory upstream');
    } finally {
      client.end();
    }
    const end = await stack.proxy.waitSessionEnd(user.name, since);
    assert.ok((end.bytesUp as number) >= size, `bytesUp ${String(end.bytesUp)} < ${size}`);
    assert.ok((end.bytesDown as number) >= size, `bytesDown ${String(end.bytesDown)} < ${size}`);
  });

  test('two users on two upstreams transfer at the same time; each file lands on its own upstream only', async () => {
    const alice = await stack.addUser('two-a', { upstream: upA });
    const bob = await stack.addUser('two-b', { upstream: upB });
    const size = 4 * MiB;
    const fa = join(stack.localDir, 'two-a.bin');
    const fb = join(stack.localDir, 'two-b.bin');
    const [da, db] = await Promise.all([writeRandomFile(fa, size), writeRandomFile(fb, size)]);
    const since = stack.proxy.mark();

    // Both sessions are open before either transfer starts, so they surely overlap in the proxy.
    const clients = await Promise.all([alice, bob].map((u) =>
      stack.ssh2({ user: u.name, privateKey: readFileSync(u.key.privatePath) })));
    try {
      const [sa, sb] = await Promise.all(clients.map((c) => ProxyStack.sftpOf(c)));
      const transfer = (sftp: ssh2.SFTPWrapper, local: string, remote: string): Promise<void> =>
        new Promise<void>((resolve, reject) => sftp.fastPut(local, remote, (err) => (err ? reject(err) : resolve())))
          .then(() => new Promise<void>((resolve, reject) =>
            sftp.fastGet(remote, `${local}.back`, (err) => (err ? reject(err) : resolve()))));
      await Promise.all([transfer(sa!, fa, 'two-a.bin'), transfer(sb!, fb, 'two-b.bin')]);
    } finally {
      for (const c of clients) c.end();
    }

    assert.equal(await sha256File(join(upA.dir, 'two-a.bin')), da);
    assert.equal(await sha256File(join(upB.dir, 'two-b.bin')), db);
    assert.equal(existsSync(join(upB.dir, 'two-a.bin')), false, "alice's file reached bob's upstream");
    assert.equal(existsSync(join(upA.dir, 'two-b.bin')), false, "bob's file reached alice's upstream");
    assert.equal(await sha256File(`${fa}.back`), da);
    assert.equal(await sha256File(`${fb}.back`), db);

    const endA = await stack.proxy.waitSessionEnd(alice.name, since);
    const endB = await stack.proxy.waitSessionEnd(bob.name, since);
    assert.ok((endA.bytesUp as number) >= size && (endB.bytesUp as number) >= size);
    const lines = stack.proxy.logs(since);
    assert.equal(lines.find((l) => l.msg === 'login accepted' && l.user === alice.name)?.upstream, `root@127.0.0.1:${upA.sshd.port}`);
    assert.equal(lines.find((l) => l.msg === 'login accepted' && l.user === bob.name)?.upstream, `root@127.0.0.1:${upB.sshd.port}`);

    // And the real OpenSSH client, two at once.
    const [ra, rb] = await Promise.all([
      stack.sftp(alice, [`put ${fa} two-a-cli.bin`]),
      stack.sftp(bob, [`put ${fb} two-b-cli.bin`]),
    ]);
    assert.equal(ra.code, 0, `alice: ${ra.stderr}`);
    assert.equal(rb.code, 0, `bob: ${rb.stderr}`);
    assert.equal(await sha256File(join(upA.dir, 'two-a-cli.bin')), da);
    assert.equal(await sha256File(join(upB.dir, 'two-b-cli.bin')), db);
    assert.equal(existsSync(join(upB.dir, 'two-a-cli.bin')), false);
    assert.equal(existsSync(join(upA.dir, 'two-b-cli.bin')), false);
  });

  test('a route change in Redis applies at the next login, without a restart', async () => {
    const user = await stack.addUser('move', { upstream: upA });
    const f = join(stack.localDir, 'move.txt');
    await writeRandomFile(f, 1000);
    const pid = stack.proxy.handle.pid;

    const r1 = await stack.sftp(user, [`put ${f} move-1.txt`]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.ok(existsSync(join(upA.dir, 'move-1.txt')));

    await stack.setRoute(user.name, stack.routeTo(upB));
    const since = stack.proxy.mark();
    const r2 = await stack.sftp(user, [`put ${f} move-2.txt`]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(existsSync(join(upB.dir, 'move-2.txt')), 'second login did not reach the new upstream');
    assert.equal(existsSync(join(upA.dir, 'move-2.txt')), false, 'second login still went to the old upstream');
    const accepted = await stack.proxy.waitFor((l) => l.msg === 'login accepted' && l.user === user.name, since);
    assert.equal(accepted.upstream, `root@127.0.0.1:${upB.sshd.port}`);
    assert.equal(stack.proxy.handle.pid, pid);
    assert.equal(stack.proxy.handle.exited, false);
    assert.deepEqual((await readdir(upB.dir)).filter((n) => n.startsWith('move-')), ['move-2.txt']);
  });
});
