/**
 * Connection life cycle through the proxy:
 *  - a client killed mid-transfer: the proxy stays up, logs `session end`,
 *    closes the upstream session (sshd's child for it exits), and serves the
 *    next login;
 *  - login grace time: a TCP client that never authenticates is closed after
 *    SFTPPROXY_LOGIN_GRACE_TIME (2 s), and an authenticated session outlives it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type ssh2 from 'ssh2';
import { setTimeout as sleep } from 'node:timers/promises';
import { descendants, writeRandomFile } from '../harness/index.js';
import { eventually, ProxyStack, type ProxyInstance, type TestUser, type Upstream } from './stack.js';

/** Command line of a process, NUL separators turned into spaces ('' if gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Count of finished connections in the sshd log (`Disconnected from user root 127.0.0.1 port N`). */
async function sessionsClosed(up: Upstream): Promise<number> {
  return ((await up.sshd.log()).match(/^Disconnected from user /gm) ?? []).length;
}

describe('proxy: connection life cycle', () => {
  let stack: ProxyStack;
  let up: Upstream;
  let good: TestUser;

  before(async () => {
    stack = await ProxyStack.start();
    up = stack.upstreams[0]!;
    good = await stack.addUser('good');
  });
  after(() => stack?.close());

  const assertStillServing = (tag: string, proxy?: ProxyInstance): Promise<void> => stack.assertStillServing(good, tag, { proxy });

  test('OpenSSH client killed mid-upload: session end logged, upstream session closed, proxy keeps serving', async () => {
    const u = await stack.addUser('killed');
    const big = join(stack.localDir, 'killed.bin');
    const size = 4 * 1024 * 1024;
    await writeRandomFile(big, size);
    // No session left from earlier tests: sshd has no per-connection children.
    assert.ok(await eventually(() => descendants(up.sshd.pid).length === 0), 'sshd children left over before the test');
    const closedBefore = await sessionsClosed(up);
    const since = stack.proxy.mark();

    // -l 2000: at most 2000 Kbit/s, so the 4 MiB upload takes ~16 s and is surely still running when killed.
    const run = stack.sftp(u, [`put ${big} killed.bin`], { extraArgs: ['-l', '2000'], timeoutMs: 60_000 });
    const remote = join(up.dir, 'killed.bin');
    const started = await eventually(() => existsSync(remote) && statSync(remote).size > 64 * 1024, 20_000);
    assert.ok(started, 'the upload never started upstream');
    assert.ok(descendants(up.sshd.pid).length > 0, 'no sshd child serves the session');

    // The ssh process under sftp holds the TCP connection: SIGKILL it (the client dies, no goodbye).
    const ssh = descendants(process.pid).find((pid) => {
      const cl = cmdline(pid);
      // sftp runs `/usr/bin/ssh ... -oPort P -l USER -s -- 127.0.0.1 sftp`
      return /^(\S*\/)?ssh\s/.test(cl) && cl.includes(`-l ${u.name} `) && cl.includes(`-oPort ${stack.proxy.port}`);
    });
    assert.ok(ssh, 'cannot find the ssh process of the sftp client');
    process.kill(ssh, 'SIGKILL');
    const res = await run;
    assert.notEqual(res.code, 0, 'sftp should fail when its connection dies');
    assert.ok(statSync(remote).size < size, 'the upload finished before the kill: the test proves nothing');

    const end = await stack.proxy.waitSessionEnd(u.name, since);
    assert.ok((end.bytesUp as number) > 64 * 1024, `bytesUp ${String(end.bytesUp)}`);
    assert.equal(stack.proxy.handle.exited, false, 'the proxy died');
    // The proxy closed its upstream connection: the sshd session ends and its processes exit.
    assert.ok(await eventually(async () => (await sessionsClosed(up)) > closedBefore, 10_000),
      `sshd never logged the session closed:\n${await up.sshd.log()}`);
    assert.ok(await eventually(() => descendants(up.sshd.pid).length === 0, 10_000),
      `sshd children still running: ${descendants(up.sshd.pid).map(cmdline).join(' | ')}`);
    await assertStillServing('killed');
  });

  test('ssh2 client socket destroyed mid-upload: same clean-up', async () => {
    const u = await stack.addUser('dropped');
    assert.ok(await eventually(() => descendants(up.sshd.pid).length === 0), 'sshd children left over before the test');
    const closedBefore = await sessionsClosed(up);
    const since = stack.proxy.mark();
    const client = await stack.ssh2({ user: u.name, privateKey: readFileSync(u.key.privatePath) });
    const sftp = await ProxyStack.sftpOf(client);
    const ws = sftp.createWriteStream('dropped.bin');
    ws.on('error', () => {});
    const chunk = Buffer.alloc(32 * 1024, 7);
    for (let i = 0; i < 8; i++) ws.write(chunk);
    const remote = join(up.dir, 'dropped.bin');
    assert.ok(await eventually(() => existsSync(remote) && statSync(remote).size > 0, 10_000), 'nothing reached upstream');
    // Tear the TCP connection down under the client (no SSH disconnect message).
    (client as unknown as { _sock: net.Socket })._sock.destroy();
    client.on('error', () => {});

    await stack.proxy.waitSessionEnd(u.name, since);
    assert.ok(await eventually(async () => (await sessionsClosed(up)) > closedBefore, 10_000), 'sshd session not closed');
    assert.ok(await eventually(() => descendants(up.sshd.pid).length === 0, 10_000), 'sshd children still running');
    assert.equal(stack.proxy.handle.exited, false);
    await assertStillServing('dropped');
  });

  test('a second subsystem request on the same session is ignored; the session and the proxy go on', async () => {
    const client = await stack.ssh2({ user: good.name, privateKey: readFileSync(good.key.privatePath) });
    try {
      const sftp = await ProxyStack.sftpOf(client);
      // ssh2 has no API for it; an attacker's client would just send the request.
      const proto = (client as unknown as { _protocol: { subsystem(id: number, name: string, wantReply: boolean): void } })._protocol;
      proto.subsystem((sftp as unknown as { outgoing: { id: number } }).outgoing.id, 'sftp', false);
      await writeFile(join(up.dir, 'double-subsystem.txt'), 'still here\n');
      const list = await new Promise<string[]>((resolve, reject) =>
        sftp.readdir('.', (err, l) => (err ? reject(err) : resolve(l.map((e) => e.filename)))));
      assert.ok(list.includes('double-subsystem.txt'), `the first sftp session still works: ${list.join(', ')}`);
    } finally {
      client.end();
    }
    await stack.proxy.waitFor((l) => l.msg === 'subsystem request on a session that has one or is closing: ignored');
    await assertStillServing('double-subsystem');
  });

  test('at most 10 sessions per connection; closing one makes room', async () => {
    const client = await stack.ssh2({ user: good.name, privateKey: readFileSync(good.key.privatePath) });
    try {
      const open = () => new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
      const sessions: ssh2.SFTPWrapper[] = [];
      for (let i = 0; i < 10; i++) sessions.push(await open());
      await assert.rejects(open(), 'the 11th session is refused');
      const closed = new Promise((r) => sessions[0]!.once('close', r));
      sessions[0]!.end();
      await closed;
      sessions.push(await open());
    } finally {
      client.end();
    }
    await assertStillServing('sessions');
  });

  describe('login grace time (SFTPPROXY_LOGIN_GRACE_TIME=2)', () => {
    let graceProxy: ProxyInstance;
    before(async () => {
      graceProxy = await stack.startProxy({ SFTPPROXY_LOGIN_GRACE_TIME: '2' });
    });
    after(() => graceProxy && stack.stopProxy(graceProxy));

    /** Connect, optionally send `hello`, resolve with ms until the proxy closes the socket. */
    function timeUntilClosed(hello?: string): Promise<{ ms: number; received: string }> {
      return new Promise((resolve, reject) => {
        const t0 = Date.now();
        let received = '';
        const sock = net.connect(graceProxy.port, '127.0.0.1', () => {
          if (hello !== undefined) sock.write(hello);
        });
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => (received += d));
        sock.on('error', () => {});
        const guard = setTimeout(() => {
          sock.destroy();
          reject(new Error(`the proxy kept an unauthenticated connection open for 8 s (grace time is 2 s); ` +
            `received ${JSON.stringify(received.slice(0, 40))}. The grace timer starts in ssh2's connection ` +
            'callback, which ssh2 calls only once the client has sent its identification line'));
        }, 8000);
        sock.on('close', () => {
          clearTimeout(guard);
          resolve({ ms: Date.now() - t0, received });
        });
      });
    }

    for (const [label, hello] of [['sends nothing', undefined], ['sends only the SSH banner', 'SSH-2.0-OpenSSH_9.2\r\n']] as const) {
      test(`a client that ${label} is closed after ~2 s`, async () => {
        const since = graceProxy.mark();
        const { ms, received } = await timeUntilClosed(hello);
        assert.match(received, /^SSH-2\.0-/, 'the proxy did not even greet');
        assert.ok(ms >= 1500, `closed after ${ms} ms: before the grace time`);
        assert.ok(ms < 8000, `closed after ${ms} ms: expected about 2 s`);
        const line = await graceProxy.waitFor((l) => l.msg === 'login grace time exceeded: connection closed', since);
        assert.equal(line.seconds, 2);
        assert.equal(graceProxy.handle.exited, false);
      });
    }

    test('an authenticated session outlives the grace time', async () => {
      const client = await stack.ssh2({ user: good.name, privateKey: readFileSync(good.key.privatePath), proxy: graceProxy });
      try {
        const since = graceProxy.mark();
        await sleep(3000);
        const sftp = await ProxyStack.sftpOf(client);
        await new Promise<void>((resolve, reject) =>
          sftp.writeFile('grace-outlived.txt', 'still here\n', (err) => (err ? reject(err) : resolve())));
        assert.equal(await readFile(join(up.dir, 'grace-outlived.txt'), 'utf8'), 'still here\n');
        assert.equal(graceProxy.logs(since).some((l) => String(l.msg).startsWith('login grace time')), false);
      } finally {
        client.end();
      }
      await assertStillServing('grace', graceProxy);
    });
  });
});
