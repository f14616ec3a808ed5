/**
 * PuTTY's psftp (putty-tools; the engine FileZilla uses), -batch with the host key pinned by
 * `-hostkey SHA256:...`. The OpenSSH key is converted with puttygen; HOME points at the run's
 * scratch directory so ~/.putty is written there.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mustRun, DriverError, describeExec, outputOfBatchCommand, rejectSigAlg, versionLine, type Driver, type DriverRun, type ScenarioResult } from './types.js';
import { execFileCollect } from '../../harness/index.js';

export const psftp: Driver = {
  name: 'psftp',
  supportsRsaSigAlg: false,

  version: () => versionLine('psftp', ['-V']),

  async run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    const { target, paths: p } = run;
    const home = join(run.workDir, 'home');
    await mkdir(home, { recursive: true });
    const env = { ...process.env, HOME: home };
    const ppk = join(run.workDir, `client_${run.keyType}.ppk`);
    await mustRun('puttygen', 'puttygen', [target.keyFor(run.keyType).privatePath, '-O', 'private', '-o', ppk], { env, timeoutMs: 30_000 });
    const batch = [
      `put ${p.localUpload} ${p.upload}`,
      `ls ${p.dir}`,
      `get ${p.upload} ${p.localDownload}`,
      `mv ${p.upload} ${p.renamed}`,
      `rm ${p.deleteMe}`,
      `mkdir ${p.mkdir}`,
      `rmdir ${p.rmdir}`,
    ];
    const batchPath = join(run.workDir, 'psftp.batch');
    await writeFile(batchPath, batch.map((l) => `${l}\n`).join(''));
    const args = ['-batch', '-P', String(target.port), '-i', ppk, '-hostkey', target.hostKeyFingerprint,
      '-b', batchPath, '-bc', `${target.user}@${target.host}`];
    // stdin is /dev/null (execFileCollect ignores it): nothing can be answered interactively.
    const res = await execFileCollect('psftp', args, { env, cwd: run.workDir, timeoutMs: 60_000 });
    const transcript = describeExec('psftp', args, res);
    if (res.code !== 0 || res.timedOut) throw new DriverError('psftp batch failed', transcript);
    return { listing: outputOfBatchCommand(res.stdout, 'psftp>', `ls ${p.dir}`), transcript };
  },
};
