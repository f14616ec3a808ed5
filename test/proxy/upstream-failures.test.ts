/**
 * The login succeeds but the user's upstream cannot serve: nothing listens on
 * the route's port, the upstream refuses the proxy's key, or something listens
 * but never speaks SSH (SFTPPROXY_CONNECT_TIMEOUT=2). Each time the client
 * fails promptly with one `pysftpproxy:` line on stderr (no internals), the
 * proxy logs `upstream failed` with a reason, and keeps serving.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileCollect, freePort } from '../harness/index.js';
import { assertNoInternals, ProxyStack, type TestUser, type Upstream } from './stack.js';

describe('proxy: upstream failures', () => {
  let stack: ProxyStack;
  let up: Upstream;
  let good: TestUser;
  let payload: string;
  const silentSockets = new Set<net.Socket>();
  let silent: net.Server | undefined;

  before(async () => {
    stack = await ProxyStack.start({ proxyEnv: { SFTPPROXY_CONNECT_TIMEOUT: '2' } });
    up = stack.upstreams[0]!;
    good = await stack.addUser('good');
    payload = stack.payload;
  });
  after(async () => {
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
    await stack?.close();
  });

  const assertStillServing = (tag: string): Promise<void> => stack.assertStillServing(good, tag);

  /** One `pysftpproxy:` line on the client's stderr, and the given wording. */
  function assertClientLine(stderr: string, wording: RegExp): void {
    const lines = stderr.split(/\r?\n/).filter((l) => l.startsWith('pysftpproxy:'));
    assert.equal(lines.length, 1, `expected one pysftpproxy: line on the client's stderr:\n${stderr}`);
    assert.match(lines[0]!, wording);
  }

  test('upstream down (closed port): the client fails fast with the pysftpproxy: line', async () => {
    const closedPort = await freePort();
    const u = await stack.addUser('down', { route: { remote: '127.0.0.1', port: String(closedPort), user: 'root' } });
    const since = stack.proxy.mark();
    const t0 = Date.now();
    const res = await stack.sftp(u, [`put ${payload} down.txt`], { timeoutMs: 30_000 });
    const elapsed = Date.now() - t0;
    assert.notEqual(res.code, 0, `client should have failed:\n${res.stdout}`);
    assert.ok(elapsed < 5000, `client took ${elapsed} ms to fail (expected well under 5 s)`);
    assertClientLine(res.stderr, /unavailable/);
    assertNoInternals(res.stderr, stack, [closedPort]);
    const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
    assert.equal(line.upstream, `root@127.0.0.1:${closedPort}`);
    assert.match(String(line.reason), /ECONNREFUSED/);
    await stack.proxy.waitSessionEnd(u.name, since);
    await assertStillServing('down');
  });

  test('upstream down, ssh2 client: sftp() fails and the channel carries the pysftpproxy: line', async () => {
    const closedPort = await freePort();
    const u = await stack.addUser('down2', { route: { remote: '127.0.0.1', port: String(closedPort), user: 'root' } });
    const client = await stack.ssh2({ user: u.name, privateKey: readFileSync(u.key.privatePath) });
    try {
      // Open the subsystem by hand to read the channel's stderr.
      const { stderr, code } = await new Promise<{ stderr: string; code: unknown }>((resolve, reject) => {
        client.subsys('sftp', (err, ch) => {
          if (err) return reject(err);
          let text = '';
          let exitCode: unknown;
          ch.stderr.on('data', (d: Buffer) => (text += d.toString('utf8')));
          ch.on('exit', (c: unknown) => (exitCode = c));
          ch.on('data', () => {});
          ch.on('close', () => resolve({ stderr: text, code: exitCode }));
        });
      });
      assertClientLine(stderr, /unavailable/);
      assert.equal(code, 1, 'exit status of the failed channel');
      assertNoInternals(stderr, stack, [closedPort]);
    } finally {
      client.end();
    }
  });

  test('upstream refuses the proxy\'s key: the client is told, the log says why', async () => {
    const strict = await stack.addUpstream({ authorize: false });
    const u = await stack.addUser('nokey', { upstream: strict });
    const since = stack.proxy.mark();
    const res = await stack.sftp(u, [`put ${payload} nokey.txt`], { timeoutMs: 30_000 });
    assert.notEqual(res.code, 0);
    assertClientLine(res.stderr, /refused the proxy login/);
    assertNoInternals(res.stderr, stack);
    assert.equal(existsSync(join(strict.dir, 'nokey.txt')), false);
    const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
    assert.match(String(line.reason), /refused the proxy's key/);
    assert.equal(line.upstream, `root@127.0.0.1:${strict.sshd.port}`);
    await assertStillServing('nokey');
  });

  test('connect timeout: an upstream that never speaks SSH fails after ~2 s, not a hang', async () => {
    silent = net.createServer((s) => {
      silentSockets.add(s);
      s.on('error', () => {});
      s.on('close', () => silentSockets.delete(s));
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const u = await stack.addUser('mute', { route: { remote: '127.0.0.1', port: String(port), user: 'root' } });
    const since = stack.proxy.mark();
    const t0 = Date.now();
    const res = await stack.sftp(u, [`put ${payload} mute.txt`], { timeoutMs: 30_000 });
    const elapsed = Date.now() - t0;
    assert.equal(res.timedOut, false, 'the client hung');
    assert.notEqual(res.code, 0);
    assert.ok(elapsed >= 1500, `failed after ${elapsed} ms: before the 2 s connect timeout?`);
    assert.ok(elapsed < 10_000, `failed after ${elapsed} ms: expected about 2 s`);
    assertClientLine(res.stderr, /unavailable/);
    assertNoInternals(res.stderr, stack, [port]);
    const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
    assert.match(String(line.reason), /2 s/);
    await assertStillServing('mute');
  });

  test('a route key file that is not a private key: refused login line, the log names the file', async () => {
    const badKey = join(stack.localDir, 'not-a-key');
    await writeFile(badKey, 'this is not an SSH key\n');
    const u = await stack.addUser('badkey', { route: stack.routeTo(up, { key: badKey }) });
    const since = stack.proxy.mark();
    const res = await stack.sftp(u, [`put ${payload} badkey.txt`], { timeoutMs: 30_000 });
    assert.notEqual(res.code, 0);
    assertClientLine(res.stderr, /refused the proxy login/);
    assertNoInternals(res.stderr, stack);
    const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
    assert.match(String(line.reason), new RegExp(`route key ${badKey}: not a usable SSH private key`));
    await assertStillServing('badkey');
  });

  test('a route key that is a FIFO or /dev/zero: refused at once, and the proxy keeps serving meanwhile', async () => {
    // Reading a FIFO synchronously once hung the whole process; /dev/zero ate gigabytes.
    const fifo = join(stack.localDir, 'key-fifo');
    const made = await execFileCollect('mkfifo', [fifo]);
    assert.equal(made.code, 0, made.stderr);
    for (const [tag, keyPath, why] of [['fifo', fifo, /not a regular file/], ['zero', '/dev/zero', /not a regular file/]] as const) {
      const u = await stack.addUser(`key${tag}`, { route: stack.routeTo(up, { key: keyPath }) });
      const since = stack.proxy.mark();
      const started = Date.now();
      const res = await stack.sftp(u, [`put ${payload} key${tag}.txt`], { timeoutMs: 30_000 });
      assert.notEqual(res.code, 0);
      assert.ok(Date.now() - started < 10_000, `${tag}: took ${Date.now() - started} ms`);
      assertClientLine(res.stderr, /refused the proxy login/);
      const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
      assert.match(String(line.reason), why);
      await assertStillServing(`key${tag}`);
    }
  });

  test('a route key file bigger than any key is refused without reading it', async () => {
    const big = join(stack.localDir, 'big-key');
    await writeFile(big, Buffer.alloc(2 * 1024 * 1024, 0x41));
    const u = await stack.addUser('keybig', { route: stack.routeTo(up, { key: big }) });
    const since = stack.proxy.mark();
    const res = await stack.sftp(u, [`put ${payload} keybig.txt`], { timeoutMs: 30_000 });
    assert.notEqual(res.code, 0);
    const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
    assert.match(String(line.reason), /larger than any key/);
  });

  test('an upstream that closes right after its banner: the log says so, the client is told', async () => {
    const liar = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.write('SSH-2.0-liar\r\n');
      setTimeout(() => sock.destroy(), 50);
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (liar.address() as net.AddressInfo).port;
      const u = await stack.addUser('banner', { route: { remote: '127.0.0.1', port: String(port), user: 'root' } });
      const since = stack.proxy.mark();
      const res = await stack.sftp(u, [`put ${payload} banner.txt`], { timeoutMs: 30_000 });
      assert.notEqual(res.code, 0);
      assertClientLine(res.stderr, /unavailable/);
      const line = await stack.proxy.waitFor((l) => l.msg === 'upstream failed' && l.user === u.name, since);
      assert.match(String(line.reason), /closed during the SSH handshake/);
      await assertStillServing('banner');
    } finally {
      await new Promise<void>((r) => liar.close(() => r()));
    }
  });
});
