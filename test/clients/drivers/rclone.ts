/**
 * rclone's sftp backend (Go x/crypto/ssh), configured through RCLONE_CONFIG_* variables, one
 * invocation per step. known_hosts_file makes it verify the host key; shell_type=none and
 * disable_hashcheck keep it to the sftp subsystem (no exec channels for md5sum/echo).
 */
import { join } from 'node:path';
import { mustRun, rejectSigAlg, versionLine, type Driver, type DriverRun, type ScenarioResult } from './types.js';

export const rclone: Driver = {
  name: 'rclone',
  supportsRsaSigAlg: false,

  version: () => versionLine('rclone', ['version']),

  async run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    const { target, paths: p } = run;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: run.workDir,
      RCLONE_CONFIG: join(run.workDir, 'rclone.conf'), // absent: everything comes from the environment
      RCLONE_CACHE_DIR: join(run.workDir, 'rclone-cache'),
      RCLONE_CONFIG_T_TYPE: 'sftp',
      RCLONE_CONFIG_T_HOST: target.host,
      RCLONE_CONFIG_T_PORT: String(target.port),
      RCLONE_CONFIG_T_USER: target.user,
      RCLONE_CONFIG_T_KEY_FILE: target.keyFor(run.keyType).privatePath,
      RCLONE_CONFIG_T_KEY_USE_AGENT: 'false',
      RCLONE_CONFIG_T_KNOWN_HOSTS_FILE: target.knownHostsPath,
      RCLONE_CONFIG_T_SHELL_TYPE: 'none',
      RCLONE_CONFIG_T_DISABLE_HASHCHECK: 'true',
    };
    const flags = ['--retries', '1', '--low-level-retries', '1', '--contimeout', '15s', '--timeout', '30s'];
    const log: string[] = [];
    const step = async (name: string, args: string[]): Promise<string> => {
      const res = await mustRun(`rclone ${name}`, 'rclone', [...args, ...flags], { env, cwd: run.workDir, timeoutMs: 60_000 });
      log.push(`$ rclone ${args.join(' ')}\n${res.stdout}${res.stderr}`);
      return res.stdout;
    };
    const r = (path: string): string => `T:${path}`;
    await step('upload', ['copyto', p.localUpload, r(p.upload)]);
    const listing = await step('list', ['lsf', r(p.dir)]);
    await step('download', ['copyto', r(p.upload), p.localDownload]);
    await step('rename', ['moveto', r(p.upload), r(p.renamed)]);
    await step('delete', ['deletefile', r(p.deleteMe)]);
    await step('mkdir', ['mkdir', r(p.mkdir)]);
    await step('rmdir', ['rmdir', r(p.rmdir)]);
    return { listing, transcript: log.join('\n') };
  },
};
