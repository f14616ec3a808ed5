/**
 * lftp over its sftp:// protocol, which runs `ssh -s sftp` as the connect program; the ssh
 * options pin the key and verify the host key (StrictHostKeyChecking=yes, the target's known_hosts).
 */
import { DriverError, describeExec, rejectSigAlg, versionLine, type Driver, type DriverRun, type ScenarioResult } from './types.js';
import { execFileCollect } from '../../harness/index.js';

const BEGIN = '==listing-begin==';
const END = '==listing-end==';

export const lftp: Driver = {
  name: 'lftp',
  supportsRsaSigAlg: false,

  version: () => versionLine('lftp', ['--version']),

  async run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    const { target, paths: p } = run;
    const ssh = ['ssh', '-a', '-x', '-F', '/dev/null', '-i', target.keyFor(run.keyType).privatePath,
      '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', `UserKnownHostsFile=${target.knownHostsPath}`,
      '-o', 'ConnectTimeout=10'].join(' ');
    const script = [
      'set cmd:fail-exit yes', // the first failing command ends lftp with a non-zero status
      'set net:max-retries 1',
      'set net:timeout 15',
      'set sftp:auto-confirm no',
      'set xfer:clobber yes',
      `set sftp:connect-program "${ssh}"`,
      `open -u ${target.user}, -p ${target.port} sftp://${target.host}`,
      `put ${p.localUpload} -o ${p.upload}`,
      `echo ${BEGIN}`,
      `cls -1 ${p.dir}/`,
      `echo ${END}`,
      `get ${p.upload} -o ${p.localDownload}`,
      `mv ${p.upload} ${p.renamed}`,
      `rm ${p.deleteMe}`,
      `mkdir ${p.mkdir}`,
      `rmdir ${p.rmdir}`,
      'bye',
    ].join('; ');
    const args = ['-c', script];
    const res = await execFileCollect('lftp', args, { cwd: run.workDir, timeoutMs: 60_000, env: { ...process.env, HOME: run.workDir } });
    const transcript = describeExec('lftp', args, res);
    if (res.code !== 0 || res.timedOut) throw new DriverError('lftp script failed', transcript);
    const start = res.stdout.indexOf(BEGIN);
    const end = res.stdout.indexOf(END);
    return { listing: start >= 0 && end > start ? res.stdout.slice(start + BEGIN.length, end) : '', transcript };
  },
};
