/**
 * SIGTERM drains: accepting stops at once (/readyz 503, a new login is refused), a 200 MiB upload
 * in flight goes on to its last byte (sha256 on the real upstream disk / the user's folder), and
 * the process exits 0 after it. With a short --drain-timeout the sessions still open are closed,
 * each with a log line, and the exit is still 0. Under --workers the whole group drains.
 * The upload is throttled (-l) so that it is surely in flight when the signal comes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  adminPort, httpGet, makeTempDir, runSftp, sha256File, writeRandomFile, type ProxyHandle, type TempDir,
} from '../harness/index.js';
import { eventually } from '../proxy/stack.js';
import { LiveSftp, sshLogin, stubbornSocket } from './clients.js';
import { startTarget, type Mode, type Target } from './targets.js';

const MiB = 1024 * 1024;
let source: TempDir;
let big: string;
let bigSum: string;

before(async () => {
  source = await makeTempDir('ops-drain-src-');
  big = join(source.path, 'big.bin');
  bigSum = await writeRandomFile(big, 200 * MiB);
});
after(async () => { await source?.cleanup(); });

const sftpArgs = (t: Target, user: string, extraArgs: string[] = []) => ({
  port: t.port, user, keyPath: t.key(user).privatePath, knownHostsPath: t.knownHostsPath, cwd: t.localDir, extraArgs,
});

/** Bytes of `path` on disk so far (0 while it does not exist). */
function size(path: string): number {
  try { return statSync(path).size; } catch { return 0; }
}

async function uploadSurvivesSigterm(t: Target, signalled: ProxyHandle): Promise<void> {
  const admin = await adminPort(t.proxy);
  const user = 'ursula';
  const dest = join(t.remoteDir(user), 'big.bin');
  // 480000 Kbit/s = 60 MB/s: about 3.5 s for 200 MiB.
  const upload = runSftp({ ...sftpArgs(t, user, ['-l', '480000']), batch: [`put ${big} big.bin`], timeoutMs: 60_000 });
  assert.ok(await eventually(() => size(dest) > 4 * MiB, 20_000), 'the upload started');
  const since = t.proxy.logs().length;
  process.kill(signalled.pid, 'SIGTERM');
  await t.proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'), 5000, since);

  const ready = await eventually(async () => { const r = await httpGet(admin, '/readyz'); return r.status === 503 ? r : undefined; }, 5000);
  assert.ok(ready, '/readyz answers 503 during the drain');
  assert.match(ready.body, /draining/);
  let uploading = true;
  void upload.finally(() => { uploading = false; });
  const lateStart = Date.now();
  const late = await runSftp({ ...sftpArgs(t, user), batch: ['pwd'], timeoutMs: 15_000 });
  const lateMs = Date.now() - lateStart;
  assert.notEqual(late.code, 0, 'a login during the drain is refused');
  assert.ok(uploading, `the upload was still running when the late login was refused (after ${lateMs} ms: ${late.stderr.trim()}; ` +
    `${size(dest)} bytes uploaded)`);

  const done = await upload;
  assert.equal(done.code, 0, `the upload in flight failed: ${done.stderr}`);
  assert.equal(await sha256File(dest), bigSum, 'the upload arrived byte for byte');
  assert.equal(await signalled.waitForExit(), 0, 'exit status after the drain');
  assert.ok(t.proxy.logs().some((l) => l.msg === 'stopped'));
  assert.equal(t.proxy.logs().filter((l) => l.msg === 'connection closed: drain timeout').length, 0);
}

async function shortDrainClosesTheRest(t: Target): Promise<void> {
  const users = ['ursula', 'vera'];
  const sessions = users.map((u) => new LiveSftp(sftpArgs(t, u)));
  try {
    for (const s of sessions) s.send('pwd');
    await eventually(() => t.proxy.logs().filter((l) => l.msg === 'login accepted').length === 2, 10_000);
    const since = t.proxy.logs().length;
    const signalled = Date.now();
    process.kill(t.proxy.pid, 'SIGTERM');
    assert.equal(await t.proxy.waitForExit(), 0, 'exit status after a drain that had to close sessions');
    const tookMs = Date.now() - signalled;
    assert.ok(tookMs >= 900 && tookMs < 6000, `exited ${tookMs} ms after SIGTERM with --drain-timeout 1`);
    const closed = t.proxy.logs().slice(since).filter((l) => l.msg === 'connection closed: drain timeout');
    assert.deepEqual(closed.map((l) => l['user']).sort(), users, 'one line for each session closed');
    for (const s of sessions) {
      s.send('ls');
      assert.notEqual(await s.quit(), 0, 'the client\'s session was closed');
    }
  } finally {
    for (const s of sessions) s.kill();
  }
}

describe('drain on SIGTERM', { concurrency: 2 }, () => {
  for (const mode of ['proxy', 'local'] as const satisfies readonly Mode[]) {
    test(`${mode} mode: a 200 MiB upload in flight survives SIGTERM byte for byte; accepting stops; exit 0`, { timeout: 90_000 }, async () => {
      const t = await startTarget(mode, { args: ['--admin-listen', '127.0.0.1:0'] });
      try {
        await uploadSurvivesSigterm(t, t.proxy);
      } finally {
        await t.close();
      }
    });

    test(`${mode} mode: --drain-timeout 1 closes the sessions still open, a line each, and exits 0`, { timeout: 30_000 }, async () => {
      const t = await startTarget(mode, { args: ['--drain-timeout', '1'], users: ['ursula', 'vera'] });
      try {
        await shortDrainClosesTheRest(t);
      } finally {
        await t.close();
      }
    });
  }

  test('local mode, --drain-timeout 1: peers that never close their sockets (logged in or not) do not hold the exit', { timeout: 30_000 }, async () => {
    const t = await startTarget('local', { args: ['--drain-timeout', '1'] });
    const loggedIn = stubbornSocket(t.port);
    const early = stubbornSocket(t.port);
    try {
      await sshLogin({ port: t.port, user: 'ursula', keyPath: t.key('ursula').privatePath, hostKey: t.hostKey, sock: loggedIn.stream });
      early.socket.write('SSH-2.0-stubborn\r\n');
      await eventually(() => t.proxy.logs().filter((l) => l.msg === 'connection').length === 2);
      const signalled = Date.now();
      process.kill(t.proxy.pid, 'SIGTERM');
      assert.equal(await t.proxy.waitForExit(), 0);
      const tookMs = Date.now() - signalled;
      assert.ok(tookMs < 6000, `exited ${tookMs} ms after SIGTERM (drain timeout 1 s)`);
      assert.ok(t.proxy.logs().some((l) => l.msg === 'stopped'), 'a drain that finished, not the watchdog');
    } finally {
      loggedIn.release();
      early.release();
      await t.close();
    }
  });

  test('--workers 2, proxy mode: the whole group drains; the upload on one worker survives; exit 0', { timeout: 90_000 }, async () => {
    const t = await startTarget('proxy', { args: ['--admin-listen', '127.0.0.1:0', '--workers', '2'], listeners: 2 });
    try {
      await uploadSurvivesSigterm(t, t.proxy);
      const stopped = t.proxy.logs().filter((l) => l.msg === 'stopped').map((l) => l['worker'] ?? 'primary');
      assert.deepEqual(stopped.map(String).sort(), ['1', '2', 'primary'], 'both workers and the primary stopped');
    } finally {
      await t.close();
    }
  });

  test('--workers 2, local mode: --drain-timeout 1 closes the sessions on both workers and exits 0', { timeout: 30_000 }, async () => {
    const t = await startTarget('local', { args: ['--drain-timeout', '1', '--workers', '2'], listeners: 2, users: ['ursula', 'vera'] });
    try {
      await shortDrainClosesTheRest(t);
    } finally {
      await t.close();
    }
  });
});
