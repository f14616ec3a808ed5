/**
 * Proxy mode under load: 200 sessions transferring at once, and a client that stops reading in
 * the middle of a 200 MiB download (the proxy must apply backpressure, not buffer the file).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { SFTPWrapper } from 'ssh2';
import { writeRandomFile } from '../harness/index.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { download, openSftp, rssKiB, sha256, sshdSessionPids, upload, waitUntil, type SftpSession } from './helpers.js';

const SESSIONS = 200;
const FILE = 64 * 1024;
const BIG = 200 * 1024 * 1024;
const CHUNK = 32 * 1024;

describe('proxy faults: load and slow readers', { concurrency: 1 }, () => {
  let target: ProxyTarget;

  before(async () => {
    // Every proxied session is one upstream SSH connection: let sshd take them all.
    target = await startProxyTarget({ sshdExtraConfig: ['MaxStartups 400', 'MaxSessions 400'] });
  });
  after(async () => {
    await target?.close();
  });

  test(`${SESSIONS} concurrent sessions transferring at once are all byte-identical`, { timeout: 180_000 }, async (t) => {
    await mkdir(join(target.remoteDir, 'many'));
    const since = target.proxy.logs().length;
    const connectLimit = pLimit(16); // bounded login rate; the transfers below run all at once
    const started = Date.now();
    const sessions: SftpSession[] = await Promise.all(
      Array.from({ length: SESSIONS }, () => connectLimit(() => openSftp(target, 'ed25519', 60_000))));
    t.diagnostic(`${SESSIONS} sessions logged in and opened sftp in ${Date.now() - started} ms`);
    try {
      const data = sessions.map(() => randomBytes(FILE));
      const path = (i: number): string => `many/f${i}.bin`;
      const t0 = Date.now();
      await Promise.all(sessions.map((s, i) => upload(s.sftp, path(i), data[i]!)));
      const back = await Promise.all(sessions.map((s, i) => download(s.sftp, path(i))));
      t.diagnostic(`${SESSIONS} uploads + downloads of ${FILE / 1024} KiB in ${Date.now() - t0} ms`);
      for (let i = 0; i < SESSIONS; i++) {
        assert.equal(sha256(back[i]!), sha256(data[i]!), `session ${i}: download differs`);
        assert.equal(sha256(await readFile(join(target.remoteDir, path(i)))), sha256(data[i]!), `session ${i}: disk differs`);
      }
    } finally {
      for (const s of sessions) s.end();
    }
    await waitUntil(() => target.proxy.logs().slice(since).filter((l) => l.msg === 'session end').length >= SESSIONS,
      30_000, `${SESSIONS} "session end" log lines`);
    assert.equal(target.proxy.logs().slice(since).filter((l) => l.msg === 'login accepted').length, SESSIONS);
    assert.equal(target.proxy.exited, false);
  });

  test('a client that stops reading a 200 MiB download: proxy memory stays bounded, then it completes byte-identical', { timeout: 180_000 }, async (t) => {
    const expectedSha = await writeRandomFile(join(target.remoteDir, 'big.bin'), BIG);
    const before = sshdSessionPids(target.sshd.pid);
    const s = await openSftp(target);
    const upstreamPids = [...sshdSessionPids(target.sshd.pid)].filter((p) => !before.has(p));
    assert.ok(upstreamPids.length > 0, 'the session\'s upstream sshd processes are visible');
    /** Bytes the upstream session processes have read (file and sockets), from /proc/<pid>/io. */
    const upstreamReadBytes = (): number => upstreamPids.reduce((sum, pid) => sum + readChars(pid), 0);
    try {
      const handle = await new Promise<Buffer>((resolve, reject) =>
        s.sftp.open('big.bin', 'r', (err, h) => (err ? reject(err) : resolve(h))));
      // Stop reading from the socket, then ask for the whole file at once: sshd would send all
      // 200 MiB as fast as it can unless the proxy stops pulling when the client does not read.
      s.sock.pause();
      await sleep(200);
      const rssBefore = rssKiB(target.proxy.pid);
      const upstreamBefore = upstreamReadBytes();
      const reads = readWhole(s.sftp, handle, BIG);
      let peak = rssBefore;
      const pausedUntil = Date.now() + 5_000;
      while (Date.now() < pausedUntil) {
        await sleep(200);
        peak = Math.max(peak, rssKiB(target.proxy.pid));
      }
      const growthMiB = (peak - rssBefore) / 1024;
      const upstreamReadMiB = (upstreamReadBytes() - upstreamBefore) / 1024 / 1024;
      t.diagnostic(`meanwhile the upstream sshd session read ${upstreamReadMiB.toFixed(1)} MiB`);
      // The stall reaches the upstream: sshd stops reading the file (SSH windows), instead of the
      // proxy soaking up the 200 MiB.
      assert.ok(upstreamReadMiB < 64, `upstream read ${upstreamReadMiB.toFixed(1)} MiB while the client was not reading`);
      t.diagnostic(`proxy RSS ${(rssBefore / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB while the client ` +
        `did not read for 5 s with ${BIG / 1024 / 1024} MiB requested (growth ${growthMiB.toFixed(1)} MiB)`);
      assert.ok(reads.received() < BIG, 'the download really was stalled');
      assert.ok(growthMiB < 64, `proxy RSS grew ${growthMiB.toFixed(1)} MiB while the client was not reading (bound: 64 MiB)`);

      s.sock.resume();
      const t0 = Date.now();
      const sha = await reads.done;
      t.diagnostic(`then the remaining download completed in ${Date.now() - t0} ms`);
      assert.equal(sha, expectedSha, 'the download is byte-identical');
    } finally {
      s.end();
    }
  });
});

/** `rchar` of /proc/<pid>/io (0 once the process is gone). */
function readChars(pid: number): number {
  try {
    const m = /^rchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Issue every read request of a file at once (CHUNK each), hash the replies in order. Replies
 * must come back in file order (they do from OpenSSH's sftp-server); one buffer is reused since
 * ssh2 copies each reply into it right before calling back.
 */
function readWhole(sftp: SFTPWrapper, handle: Buffer, size: number): { received(): number; done: Promise<string> } {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(CHUNK);
  let received = 0;
  let expectedPos = 0;
  const done = new Promise<string>((resolve, reject) => {
    let left = Math.ceil(size / CHUNK);
    let failed = false;
    for (let pos = 0; pos < size; pos += CHUNK) {
      const len = Math.min(CHUNK, size - pos);
      sftp.read(handle, buf, 0, len, pos, (err, bytesRead, _b, position) => {
        if (failed) return;
        if (err || bytesRead !== len || position !== expectedPos) {
          failed = true;
          reject(err ?? new Error(`read at ${position}: got ${bytesRead} bytes, expected ${len} at ${expectedPos}`));
          return;
        }
        hash.update(buf.subarray(0, bytesRead));
        received += bytesRead;
        expectedPos += bytesRead;
        if (--left === 0) resolve(hash.digest('hex'));
      });
    }
  });
  done.catch(() => {});
  return { received: () => received, done };
}
