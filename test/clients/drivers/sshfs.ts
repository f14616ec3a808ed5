/**
 * sshfs (FUSE over ssh's sftp subsystem) in the foreground (-f, so the test owns its PID), host
 * key verified by ssh (StrictHostKeyChecking=yes, the target's known_hosts). The scenario is
 * plain file-system calls on the mount; then fusermount3 -u.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileCollect, trackChild, stopChild } from '../../harness/index.js';
import { DriverError, mustRun, rejectSigAlg, type Driver, type DriverRun, type ScenarioResult } from './types.js';

async function isMounted(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === path);
}

export const sshfs: Driver = {
  name: 'sshfs',
  supportsRsaSigAlg: false,

  async version(): Promise<string> {
    // `sshfs --version` prints "fusermount3 version: ...", "SSHFS version 3.7.3", "FUSE library version ...".
    const res = await mustRun('sshfs --version', 'sshfs', ['--version'], { timeoutMs: 20_000 });
    const lines = `${res.stdout}\n${res.stderr}`.split('\n').map((l) => l.trim());
    const sshfsLine = lines.find((l) => /^SSHFS version/.test(l));
    if (!sshfsLine) throw new DriverError('sshfs --version: no "SSHFS version" line', `${res.stdout}${res.stderr}`);
    const fuseLine = lines.find((l) => /^FUSE library version/.test(l));
    return fuseLine ? `${sshfsLine} (${fuseLine})` : sshfsLine;
  },

  async run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    const { target, paths: p } = run;
    const mnt = join(run.workDir, 'mnt');
    await mkdir(mnt, { recursive: true });
    const opts = [
      `IdentityFile=${target.keyFor(run.keyType).privatePath}`, 'IdentitiesOnly=yes',
      `UserKnownHostsFile=${target.knownHostsPath}`, 'GlobalKnownHostsFile=/dev/null',
      'StrictHostKeyChecking=yes', 'BatchMode=yes', 'ConnectTimeout=10',
    ].join(',');
    const remote = `${target.user}@${target.host}:${target.remotePathPrefix}`;
    const args = ['-f', '-F', '/dev/null', '-p', String(target.port), '-o', opts, remote, mnt];
    const child = spawn('sshfs', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child, 'sshfs');
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    const transcript = (): string => `$ sshfs ${args.join(' ')}\n${output}`;
    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;

    try {
      const deadline = Date.now() + 20_000;
      while (!(await isMounted(mnt))) {
        if (spawnError) throw new DriverError(`cannot run sshfs: ${spawnError.message}`, transcript());
        if (exited()) throw new DriverError(`sshfs exited (code ${child.exitCode}) before mounting`, transcript());
        if (Date.now() > deadline) throw new DriverError('sshfs did not mount within 20 s', transcript());
        await sleep(50);
      }
      const at = (path: string): string => join(mnt, path.startsWith('/') ? posix.relative(target.remotePathPrefix || '/', path) : path);
      const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        try {
          return await fn();
        } catch (err) {
          throw new DriverError(`sshfs ${name} failed: ${(err as Error).message}`, transcript());
        }
      };
      await step('upload', () => copyFile(p.localUpload, at(p.upload)));
      const names = await step('list', () => readdir(at(p.dir)));
      await step('download', () => copyFile(at(p.upload), p.localDownload));
      await step('rename', () => rename(at(p.upload), at(p.renamed)));
      await step('delete', () => unlink(at(p.deleteMe)));
      await step('mkdir', () => mkdir(at(p.mkdir)));
      await step('rmdir', () => rmdir(at(p.rmdir)));

      const um = await execFileCollect('fusermount3', ['-u', mnt], { timeoutMs: 20_000 });
      if (um.code !== 0) throw new DriverError('fusermount3 -u failed', `${um.stdout}${um.stderr}\n${transcript()}`);
      const code = await Promise.race([
        new Promise<number | null>((resolve) => (exited() ? resolve(child.exitCode) : child.once('exit', (c) => resolve(c)))),
        sleep(10_000).then(() => 'timeout' as const),
      ]);
      if (code !== 0) throw new DriverError(`sshfs did not exit cleanly after unmount (${code})`, transcript());
      return { listing: names.sort().join('\n'), transcript: transcript() };
    } finally {
      if (await isMounted(mnt)) await execFileCollect('fusermount3', ['-u', '-z', mnt], { timeoutMs: 20_000 });
      if (!exited()) await stopChild(child, { graceMs: 2000 });
    }
  },
};
