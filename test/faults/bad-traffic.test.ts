/**
 * Proxy mode against connections that never become sessions: a TCP connection that says nothing,
 * an SSH client that never authenticates (both must be closed after the login grace time), and
 * broken SSH traffic (garbage before the banner, an oversize packet after it: closed at once).
 * Each must leave a log line naming the connection, and a good login must still work after.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { parsePublicLine, type LogLine } from '../harness/index.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { download, openSftp, sha256, upload } from './helpers.js';

const GRACE_SECONDS = 2;

interface RawOutcome {
  /** ms from connect until the proxy closed the connection (FIN or reset), or 'open' at the deadline. */
  closedAfterMs: number | 'open';
  received: Buffer;
  remote: string;
}

/** Open a TCP connection, send `payload` (if any) after the server's banner, wait until closed. */
function rawConnection(port: number, payload: (banner: string) => Buffer | undefined, deadlineMs: number): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let started = 0;
    let remote = '';
    let sent = false;
    let done = false;
    const finish = (closedAfterMs: number | 'open'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ closedAfterMs, received: Buffer.concat(chunks), remote });
    };
    const timer = setTimeout(() => finish('open'), deadlineMs);
    sock.once('connect', () => {
      started = Date.now();
      remote = `127.0.0.1:${sock.localPort}`;
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      if (!sent && text.includes('\n')) {
        sent = true;
        const data = payload(text.slice(0, text.indexOf('\n')));
        if (data) sock.write(data);
      }
    });
    sock.on('end', () => finish(Date.now() - started));
    sock.on('close', () => finish(Date.now() - started));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (started === 0) reject(err);
      else finish(Date.now() - started); // ECONNRESET: closed too
    });
  });
}

function closedMs(v: number | 'open', message: string): number {
  if (v === 'open') assert.fail(message);
  return v;
}

describe('proxy faults: connections that never become sessions', { concurrency: 1 }, () => {
  let target: ProxyTarget;

  before(async () => {
    target = await startProxyTarget({ proxyEnv: { SFTPPROXY_LOGIN_GRACE_TIME: String(GRACE_SECONDS) } });
  });
  after(async () => {
    await target?.close();
  });

  const linesFor = (remote: string): LogLine[] => target.logs().filter((l) => l.remote === remote);

  /** The proxy logged (at info level) that this connection was closed. */
  async function closeLogged(remote: string): Promise<void> {
    await target.proxy.waitForLog((l) => l.remote === remote && /^connection closed/.test(String(l.msg)) && (l.level ?? 0) >= 30, 5_000)
      .catch((err: Error) => assert.fail(`${err.message}; lines for ${remote}: ${JSON.stringify(linesFor(remote))}`));
  }

  /** A session opened before the bad connection still moves data: only that connection was closed. */
  async function sessionStillWorks(s: Awaited<ReturnType<typeof openSftp>>): Promise<void> {
    const data = randomBytes(16 * 1024);
    const name = `held-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`;
    await upload(s.sftp, name, data);
    assert.equal(sha256(await download(s.sftp, name)), sha256(data));
    s.end();
  }

  /** After each case: still running, and a real login still works. */
  async function goodLoginStillWorks(): Promise<void> {
    assert.equal(target.proxy.exited, false, 'the proxy is still running');
    const s = await openSftp(target);
    const data = randomBytes(32 * 1024);
    const name = `good-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`;
    await upload(s.sftp, name, data);
    const names = await new Promise<string[]>((resolve, reject) =>
      s.sftp.readdir('.', (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename)))));
    assert.ok(names.includes(name), 'the upload is listed');
    assert.equal(sha256(await download(s.sftp, name)), sha256(data));
    s.end();
  }

  test('a TCP connection that never sends anything is closed after the login grace time', { timeout: 60_000 }, async () => {
    // Half-open from the SSH point of view: connected, the banner arrives, nothing is ever sent back.
    const out = await rawConnection(target.port, () => undefined, 15_000);
    assert.match(out.received.toString('latin1'), /^SSH-2\.0-/, 'the proxy sent its banner');
    const ms = closedMs(out.closedAfterMs, `a silent connection was still open 15 s later (grace time ${GRACE_SECONDS} s)`);
    assert.ok(ms >= GRACE_SECONDS * 1000 - 500, `closed by the grace timer, not before (${ms} ms)`);
    await target.proxy.waitForLog((l) => l.remote === out.remote && l.msg === 'login grace time exceeded: connection closed', 5_000);
    await goodLoginStillWorks();
  });

  test('an SSH client that never authenticates is closed after the login grace time', { timeout: 60_000 }, async () => {
    const expected = Buffer.from(parsePublicLine(target.hostPublicKeyLine).blobBase64, 'base64');
    const sock = net.connect({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    const remote = `127.0.0.1:${sock.localPort}`;
    const conn = new ssh2.Client();
    conn.on('error', () => {});
    let handshakeDone = false;
    conn.on('handshake', () => { handshakeDone = true; });
    const started = Date.now();
    const closed = new Promise<number | 'open'>((resolve) => {
      const timer = setTimeout(() => resolve('open'), 15_000);
      conn.once('close', () => { clearTimeout(timer); resolve(Date.now() - started); });
    });
    conn.connect({
      sock,
      username: target.user,
      privateKey: readFileSync(target.keyFor('ed25519').privatePath),
      hostVerifier: (key: Buffer) => key.equals(expected),
      readyTimeout: 60_000,
      // Key exchange completes, then the client just sits there: it never tries a method.
      authHandler: () => {},
    });
    const closedAfter = await closed;
    conn.end();
    sock.destroy();
    assert.ok(handshakeDone, 'the key exchange completed');
    const ms = closedMs(closedAfter, 'an unauthenticated SSH connection was still open 15 s later');
    assert.ok(ms >= GRACE_SECONDS * 1000 - 500, `closed by the grace timer, not before (${ms} ms)`);
    await target.proxy.waitForLog((l) => l.remote === remote && l.msg === 'login grace time exceeded: connection closed', 5_000);
    await goodLoginStillWorks();
  });

  test('garbage before the banner: the connection is closed and logged, the proxy keeps serving', { timeout: 60_000 }, async () => {
    const held = await openSftp(target);
    const garbage = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: sftp\r\n\r\n'), randomBytes(4096)]);
    const out = await rawConnection(target.port, () => garbage, 15_000);
    const ms = closedMs(out.closedAfterMs, 'a connection speaking HTTP was still open 15 s later');
    assert.ok(ms < GRACE_SECONDS * 1000, `closed for the garbage, before the grace time (${ms} ms)`);
    await closeLogged(out.remote);
    await sessionStillWorks(held);
    await goodLoginStillWorks();
  });

  test('an oversize packet after the banner: the connection is closed and logged, the proxy keeps serving', { timeout: 60_000 }, async () => {
    // A packet header announcing 16 MiB (ssh2 caps packets near 35,000 bytes; RFC 4253 asks 35,000).
    const header = Buffer.alloc(16);
    header.writeUInt32BE(16 * 1024 * 1024, 0);
    const held = await openSftp(target);
    const out = await rawConnection(target.port, () => Buffer.concat([Buffer.from('SSH-2.0-faults_test\r\n'), header, randomBytes(64 * 1024)]), 15_000);
    const ms = closedMs(out.closedAfterMs, 'the connection was still open 15 s later');
    assert.ok(ms < GRACE_SECONDS * 1000, `closed for the bad packet, before the grace time (${ms} ms)`);
    await closeLogged(out.remote);
    await sessionStillWorks(held);
    await goodLoginStillWorks();
  });
});
