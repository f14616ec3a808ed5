/**
 * --idle-timeout 2, in both modes: an SFTP session with no traffic either way for 2 s is closed
 * (the client sees its channel close; logged and counted), SSH keepalives do not count as
 * traffic, and a transfer that lasts longer than the timeout (a throttled OpenSSH client, ~5 s)
 * is never idle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adminPort, runSftp, scrapeUntil, sha256File, writeRandomFile } from '../harness/index.js';
import { closed, LiveSftp, openSftp, settlesWithin, sshLogin } from './clients.js';
import { startTarget, type Mode, type Target } from './targets.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// The two modes run side by side: most of the time here is waiting for timeouts and throttled clients.
describe('--idle-timeout 2', { concurrency: 2 }, () => {
  for (const mode of ['proxy', 'local'] as const satisfies readonly Mode[]) {
    describe(`${mode} mode`, () => {
      let t: Target;
      let admin: number;
      const user = 'ursula';

      before(async () => {
        t = await startTarget(mode, { args: ['--idle-timeout', '2', '--admin-listen', '127.0.0.1:0'] });
        admin = await adminPort(t.proxy);
      });
      after(async () => { await t?.close(); });

      const sftpArgs = (extraArgs: string[] = []) => ({ port: t.port, user, keyPath: t.key(user).privatePath,
        knownHostsPath: t.knownHostsPath, cwd: t.localDir, extraArgs });

      test('an idle OpenSSH sftp session sending keepalives every second is closed after 2 s; logged and counted', async () => {
        const since = t.proxy.logs().length;
        const sftp = new LiveSftp(sftpArgs(['-o', 'ServerAliveInterval=1', '-o', 'ServerAliveCountMax=10']));
        try {
          sftp.send('pwd');
          const login = await t.proxy.waitForLog((l) => l.msg === 'login accepted', 10_000, since);
          const line = await t.proxy.waitForLog((l) => l.msg === 'session closed: idle timeout' && l['user'] === user, 8000, since);
          const ms = Number(line.time) - Number(login.time);
          // From the login: the client's first requests come a moment after it (more on a loaded machine).
        assert.ok(ms >= 2000 && ms < 6000, `closed ${ms} ms after the login (timeout 2 s, checked every 0.5 s)`);
          assert.equal(line['idleTimeout'], 2);
          // The client saw its channel close: its ssh left, so the connection ends...
          await t.proxy.waitForLog((l) => l.msg === 'session end' && l['user'] === user, 5000, since);
          // ...and sftp, blocked reading its next command, fails on the next request.
          sftp.send('ls');
          assert.notEqual(await sftp.quit(), 0, `sftp went on after the close:\n${sftp.output}`);
          const s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_connections_closed_total', { reason: 'idle-timeout' }) >= 1);
          assert.ok(s.value('pysftpproxy_connections_closed_total', { reason: 'idle-timeout' }) >= 1);
        } finally {
          sftp.kill();
        }
      });

      test('ssh2 client with keepalives every 300 ms: its idle sftp channel is closed, then its connection', async () => {
        const since = t.proxy.logs().length;
        const client = await sshLogin({ port: t.port, user, keyPath: t.key(user).privatePath, hostKey: t.hostKey, keepaliveInterval: 300 });
        const connectionClosed = closed(client);
        try {
          const sftp = await openSftp(client);
          const opened = Date.now();
          assert.ok(await settlesWithin(closed(sftp), 6000), 'the sftp channel is still open 6 s later');
          // The server's clock starts when it accepts the channel, before the client is told: a little early here.
        assert.ok(Date.now() - opened >= 1000, `channel closed after ${Date.now() - opened} ms`);
          // ssh2's SFTP client never answers the server's CHANNEL_CLOSE: the server does not keep
          // the half-closed channel (and the session behind it) but closes the connection.
          assert.ok(await settlesWithin(connectionClosed, 5000), 'the connection is still open 5 s later');
          await t.proxy.waitForLog((l) => l.msg === 'the client did not confirm the session close: connection closed', 5000, since);
          const s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_sessions_active') === 0);
          assert.equal(s.value('pysftpproxy_sessions_active'), 0, 'the session is gone');
        } finally {
          client.end();
        }
      });

      test('a logged-in connection that opens no session (keepalives only) is closed after 2 s', async () => {
        const since = t.proxy.logs().length;
        const client = await sshLogin({ port: t.port, user, keyPath: t.key(user).privatePath, hostKey: t.hostKey, keepaliveInterval: 300 });
        const started = Date.now();
        try {
          assert.ok(await settlesWithin(closed(client), 6000), 'the unused connection is still open 6 s later');
          assert.ok(Date.now() - started >= 1000, `closed after ${Date.now() - started} ms`);
          const line = await t.proxy.waitForLog((l) => l.msg === 'connection closed: idle timeout, no session open', 5000, since);
          assert.equal(line['user'], user);
        } finally {
          client.end();
        }
      });

      test('a throttled upload and a throttled download (~5 s each, side by side) are never idle, and arrive intact', { timeout: 60_000 }, async () => {
        const small = join(t.localDir, 'slow.bin');
        const big = join(t.localDir, 'slow-big.bin');
        const smallSum = await writeRandomFile(small, 640 * KiB);
        const bigSum = await writeRandomFile(big, 20 * MiB);
        await copyFile(big, join(t.remoteDir(user), 'slow-big.bin'));
        const since = t.proxy.logs().length;
        const timed = async (args: string[], batch: string[]) => {
          const started = Date.now();
          const r = await runSftp({ ...sftpArgs(args), batch, timeoutMs: 30_000 });
          return { ...r, ms: Date.now() - started };
        };
        const [put, get] = await Promise.all([
          // Upload: -l 1000 Kbit/s = 125 KB/s, about 5 s for 640 KiB, a WRITE every ~0.25 s with
          // -B 32768 (without it sftp writes 255 KiB, as limits@openssh.com allows: one every
          // 2.0 s, as long as the timeout, so the session was rightly idle now and then).
          timed(['-l', '1000', '-B', '32768'], [`put ${small} slow.bin`]),
          // Download: the server answers reads as far as the client's 2 MiB window allows, so what
          // the client holds in its buffers must drain well within the timeout for its next reads
          // to come (traffic is what crosses the server): 20 MiB at -l 32000 Kbit/s (4 MB/s).
          timed(['-l', '32000'], ['get slow-big.bin slow.back']),
        ]);
        assert.equal(put.code, 0, `${put.signal} ${put.stderr}`);
        assert.equal(get.code, 0, `${get.signal} ${get.stderr}`);
        assert.equal(await sha256File(join(t.remoteDir(user), 'slow.bin')), smallSum);
        assert.equal(await sha256File(join(t.localDir, 'slow.back')), bigSum);
        assert.ok(put.ms > 3000 && get.ms > 3000, `the transfers lasted ${put.ms} and ${get.ms} ms: longer than the timeout`);
        assert.equal(t.proxy.logs().slice(since).filter((l) => l.msg === 'session closed: idle timeout').length, 0);
      });
    });
  }
});
