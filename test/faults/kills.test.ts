/**
 * Proxy mode under things dying: a client killed mid-upload and mid-download, the upstream sshd
 * killed mid-transfer, Redis restarted under live sessions. Each time: the proxy keeps running,
 * says what happened in its log, and other sessions are not disturbed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeTempDir, sha256File, trackChild, writeRandomFile, type TempDir } from '../harness/index.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { download, logFor, openSftp, sha256, sshdSessionPids, transferLoop, upload, waitGone, waitUntil, type SftpSession } from './helpers.js';

const BIG = 16 * 1024 * 1024;
/** sftp -l: 8192 Kbit/s = 1 MiB/s, so a 16 MiB transfer is reliably caught in the middle. */
const SLOW = ['-l', '8192'];

interface SftpProcess {
  child: ChildProcess;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** OpenSSH sftp (bandwidth-limited) running one batch command, as a process we can kill. */
function slowSftp(target: ProxyTarget, cwd: string, batch: string): SftpProcess {
  const batchPath = join(cwd, `batch-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(batchPath, `${batch}\n`);
  const args = ['-F', '/dev/null', '-b', batchPath, '-P', String(target.port), '-i', target.keyFor('ed25519').privatePath,
    '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${target.knownHostsPath}`, '-o', 'GlobalKnownHostsFile=/dev/null',
    ...SLOW, `${target.user}@${target.host}`];
  const child = spawn('sftp', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child, 'sftp');
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exit };
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => -1);
}

/** The `remote` of the first login accepted at or after log index `since`. */
async function nextLoginRemote(target: ProxyTarget, since: number): Promise<string> {
  const line = await target.proxy.waitForLog((l) => l.msg === 'login accepted', 15_000, since);
  return String(line.remote);
}

describe('proxy faults: things dying mid-transfer', { concurrency: 1 }, () => {
  let target: ProxyTarget;
  let local: TempDir;

  before(async () => {
    local = await makeTempDir('pysftpproxy-faults-');
    target = await startProxyTarget();
  });
  after(async () => {
    await target?.close();
    await local?.cleanup();
  });

  /** A session that keeps uploading+downloading 256 KiB files until stopped. */
  async function parallelSession(name: string): Promise<{ s: SftpSession; loop: ReturnType<typeof transferLoop> }> {
    const s = await openSftp(target);
    await new Promise<void>((resolve, reject) => s.sftp.mkdir(name, (err) => (err ? reject(err) : resolve())));
    return { s, loop: transferLoop(s.sftp, `${name}/f`, 256 * 1024) };
  }

  async function killMidTransfer(kind: 'upload' | 'download'): Promise<void> {
    const par = await parallelSession(`parallel-${kind}`);
    const remoteName = `killed-${kind}.bin`;
    const localPath = join(local.path, `killed-${kind}.local`);
    if (kind === 'upload') await writeRandomFile(localPath, BIG);
    else await writeRandomFile(join(target.remoteDir, remoteName), BIG);
    // Watch the file that grows: the upstream disk on upload, the local copy on download.
    const growing = kind === 'upload' ? join(target.remoteDir, remoteName) : localPath;

    const before = sshdSessionPids(target.sshd.pid);
    const since = target.proxy.logs().length;
    const client = slowSftp(target, local.path, kind === 'upload' ? `put ${localPath} ${remoteName}` : `get ${remoteName} ${localPath}`);
    const remote = await nextLoginRemote(target, since);
    await waitUntil(async () => (await sizeOf(growing)) > 512 * 1024, 30_000, `${kind} to pass 512 KiB`);
    const upstreamPids = [...sshdSessionPids(target.sshd.pid)].filter((p) => !before.has(p));
    assert.ok(upstreamPids.length > 0, 'the killed client\'s upstream sshd session is visible');

    client.child.kill('SIGKILL');
    const { signal } = await client.exit;
    assert.equal(signal, 'SIGKILL');
    assert.ok((await sizeOf(growing)) < BIG, `the ${kind} was cut short`);

    const end = await target.proxy.waitForLog(logFor(remote, 'session end'), 15_000, since);
    assert.equal(typeof end.bytesUp, 'number');
    await waitGone(upstreamPids, 15_000, 'the upstream sshd session of the killed client to exit');

    // The other session kept going, and still does.
    const rounds = par.loop.rounds();
    await waitUntil(() => par.loop.rounds() >= rounds + 2, 30_000, 'the parallel session to complete two more round trips');
    par.loop.stop();
    assert.ok((await par.loop.done) >= 2);
    par.s.end();
    assert.equal(target.proxy.exited, false, 'the proxy is still running');
  }

  test('a client killed mid-upload: session end logged, upstream session closed, others unaffected', { timeout: 120_000 }, async () => {
    await killMidTransfer('upload');
  });

  test('a client killed mid-download: session end logged, upstream session closed, others unaffected', { timeout: 120_000 }, async () => {
    await killMidTransfer('download');
  });

  test('upstream sshd killed mid-transfer: the client gets an error promptly, the proxy logs it', { timeout: 120_000 }, async (t) => {
    const remoteName = 'upstream-dies.bin';
    await writeRandomFile(join(target.remoteDir, remoteName), BIG);
    const localPath = join(local.path, 'upstream-dies.local');
    const since = target.proxy.logs().length;
    const client = slowSftp(target, local.path, `get ${remoteName} ${localPath}`);
    const remote = await nextLoginRemote(target, since);
    await waitUntil(async () => (await sizeOf(localPath)) > 512 * 1024, 30_000, 'the download to pass 512 KiB');

    const killedAt = Date.now();
    await target.sshd.kill();
    const result = await Promise.race([
      client.exit,
      new Promise<'hang'>((resolve) => setTimeout(() => resolve('hang'), 10_000).unref()),
    ]);
    const seconds = (Date.now() - killedAt) / 1000;
    if (result === 'hang') {
      client.child.kill('SIGKILL');
      assert.fail(`the client still hangs 10 s after the upstream died:\n${client.output()}`);
    }
    // sftp exits 1, or dies of SIGPIPE when its ssh child is gone first: either way, not success.
    assert.ok(result.code !== 0, `the client reports failure:\n${client.output()}`);
    assert.match(client.output(), /pysftpproxy: your SFTP server is unavailable/, 'the client is told why');
    t.diagnostic(`client ended ${seconds.toFixed(1)} s after the upstream was killed (code ${result.code}, signal ${result.signal}); ` +
      `it said: ${client.output().trim().split('\n').pop()}`);

    await target.proxy.waitForLog(logFor(remote, 'upstream connection lost'), 10_000, since);
    await target.proxy.waitForLog(logFor(remote, 'session end'), 10_000, since);
    assert.equal(target.proxy.exited, false, 'the proxy is still running');

    // The upstream comes back: new sessions work again.
    await target.sshd.start();
    const s = await openSftp(target);
    const data = randomBytes(64 * 1024);
    await upload(s.sftp, 'after-upstream-restart.bin', data);
    assert.equal(sha256(await download(s.sftp, 'after-upstream-restart.bin')), sha256(data));
    s.end();
  });

  test('Redis restarted under live sessions: they finish byte-identical, logins work once it is back', { timeout: 120_000 }, async () => {
    const sessions = await Promise.all(['redis-a', 'redis-b', 'redis-c'].map((n) => parallelSession(n)));
    // A long transfer in flight the whole time, through a real client.
    const bigLocal = join(local.path, 'redis-big.local');
    const bigSha = await writeRandomFile(bigLocal, 8 * 1024 * 1024);
    const since = target.proxy.logs().length;
    const bigUpload = slowSftp(target, local.path, `put ${bigLocal} redis-big.bin`);
    await nextLoginRemote(target, since);

    await target.redis.stop();
    await target.proxy.waitForLog((l) => l.msg === 'redis unavailable: logins are refused until it is back', 15_000, since);
    // While it is down, a new login is refused with a reason, not hung.
    const downSince = target.proxy.logs().length;
    await assert.rejects(openSftp(target, 'ed25519', 15_000));
    const refused = await target.proxy.waitForLog((l) => l.msg === 'login refused', 5_000, downSince);
    assert.match(String(refused.reason), /unavailable/);

    // Live sessions keep moving during the outage.
    const rounds = sessions.map((s) => s.loop.rounds());
    await waitUntil(() => sessions.every((s, i) => s.loop.rounds() >= rounds[i]! + 2), 30_000, 'live sessions to progress while Redis is down');

    assert.equal(bigUpload.child.exitCode, null, 'the long upload was still running across the outage (make it slower)');
    await target.redis.start();
    await target.register(); // no persistence: the data is gone
    await target.proxy.waitForLog((l) => l.msg === 'redis available again', 15_000, since);
    const s = await openSftp(target);
    const data = randomBytes(64 * 1024);
    await upload(s.sftp, 'after-redis-restart.bin', data);
    assert.equal(sha256(await download(s.sftp, 'after-redis-restart.bin')), sha256(data));
    s.end();

    for (const x of sessions) x.loop.stop();
    for (const x of sessions) assert.ok((await x.loop.done) >= 2);
    for (const x of sessions) x.s.end();
    const big = await bigUpload.exit;
    assert.equal(big.code, 0, `the long upload finished:\n${bigUpload.output()}`);
    assert.equal(await sha256File(join(target.remoteDir, 'redis-big.bin')), bigSha, 'the long upload is byte-identical on disk');
    assert.equal(target.proxy.exited, false);
  });
});
