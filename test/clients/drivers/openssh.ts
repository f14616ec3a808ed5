/** OpenSSH `sftp` in batch mode (-b), StrictHostKeyChecking=yes against the target's known_hosts. */
import { runSftp } from '../../harness/index.js';
import { DriverError, describeExec, outputOfBatchCommand, rejectSigAlg, versionLine, type Driver, type DriverRun, type ScenarioResult } from './types.js';

export const openssh: Driver = {
  name: 'openssh-sftp',
  supportsRsaSigAlg: true,

  version: () => versionLine('ssh', ['-V']),

  async run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    const { target, paths: p } = run;
    const batch = [
      `put ${p.localUpload} ${p.upload}`,
      `ls -1 ${p.dir}`,
      `get ${p.upload} ${p.localDownload}`,
      `rename ${p.upload} ${p.renamed}`,
      `rm ${p.deleteMe}`,
      `mkdir ${p.mkdir}`,
      `rmdir ${p.rmdir}`,
    ];
    // Forcing one signature algorithm: the client may then only sign with it.
    const extraArgs = run.rsaSigAlg ? ['-o', `PubkeyAcceptedAlgorithms=${run.rsaSigAlg}`] : [];
    const res = await runSftp({
      port: target.port,
      host: target.host,
      user: target.user,
      keyPath: target.keyFor(run.keyType).privatePath,
      knownHostsPath: target.knownHostsPath,
      batch,
      cwd: run.workDir,
      timeoutMs: 60_000,
      extraArgs,
    });
    const transcript = describeExec('sftp', ['-b', '<batch>', ...extraArgs, `${target.user}@${target.host}`], res);
    if (res.code !== 0 || res.timedOut) throw new DriverError('sftp batch failed', `batch:\n${batch.join('\n')}\n${transcript}`);
    return { listing: outputOfBatchCommand(res.stdout, 'sftp>', `ls -1 ${p.dir}`), transcript };
  },
};
