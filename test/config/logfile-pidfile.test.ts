// --logfile and --pidfile (solt_sftp's logfile and pidfile keys), as an operator runs them: the
// pid file holds the process id while it runs and is gone after SIGTERM; every log line,
// the last one before exit included, lands in the file; SIGHUP after logrotate moved the file
// starts a new one. Both without and with --workers (whose primary writes the file). The pid
// file is there when the first 'listening' line is.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localUserSetup, makeTempDir, PROXY_BIN, proxyEnv, stopChild, trackChild, type LocalUserSetup, type TempDir } from '../harness/index.js';

async function until<T>(what: string, probe: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lines = (file: string): Array<Record<string, unknown>> => (existsSync(file) ? readFileSync(file, 'utf8') : '')
  .split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('--logfile and --pidfile', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-logfile-');
    setup = await localUserSetup(tmp.path);
  });
  after(() => tmp?.cleanup());

  for (const workers of [1, 2]) {
    test(`workers=${workers}: pid file while running, every line in the log file, reopened on SIGHUP`, async () => {
      const dir = join(tmp.path, `w${workers}`);
      await mkdir(dir);
      const logfile = join(dir, 'sftp.log');
      const pidfile = join(dir, 'sftp.pid');
      const child = spawn(process.execPath, [PROXY_BIN, ...setup.args, '--workers', String(workers), '--logfile', logfile,
        '--pidfile', pidfile], { env: proxyEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      trackChild(child, 'proxy-logfile');
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      try {
        const listening = () => lines(logfile).filter((l) => l.msg === 'listening');
        // The pid file is there by the first listening line (the primary writes it before the
        // workers start; a single process after dropping privileges, before the line). Polled,
        // this only catches a pid file written well after the line; the order itself is checked
        // where it is deterministic, in drop-privileges.test.ts (the same beforeListening step).
        await until('the listening line(s) in the log file', () => {
          const n = listening().length;
          if (n > 0) assert.ok(existsSync(pidfile), `the pid file exists once ${n} listening line(s) are logged`);
          return n === workers ? true : undefined;
        });
        assert.equal(readFileSync(pidfile, 'utf8'), `${child.pid}\n`, 'the pid file names the (primary) process');
        assert.equal(out, '', 'nothing on stdout or stderr: the log goes to the file');

        const port = Number(listening()[0]!.port);
        renameSync(logfile, `${logfile}.1`); // what logrotate does before signalling
        child.kill('SIGHUP');
        // Signals are asynchronous, and connections are logged by whichever process takes them
        // (round robin under --workers): connect until every process has written to a new file.
        const writers = () => new Set(lines(logfile).filter((l) => l.msg === 'connection').map((l) => l.worker ?? 0));
        await until('a connection logged by every process in the new file', () => {
          const s = net.connect(port, '127.0.0.1');
          s.on('error', () => undefined);
          s.on('connect', () => s.destroy());
          return writers().size === workers ? true : undefined;
        }, 10_000);
        assert.equal(await stopChild(child), 0, `exit code after SIGTERM; output: ${out}`);
        assert.equal(existsSync(pidfile), false, 'the pid file is removed at exit');
        const after = [...lines(logfile)];
        assert.ok(after.some((l) => l.msg === 'shutting down'), `the last line before exit is in the new log file: ${JSON.stringify(after)}`);
        assert.ok(lines(`${logfile}.1`).some((l) => l.msg === 'listening'), 'the rotated file kept the earlier lines');
      } finally {
        await stopChild(child);
      }
    });
  }
});
