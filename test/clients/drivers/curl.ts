/**
 * curl's sftp:// (libssh2), one invocation per step, the host key pinned with --hostpubsha256.
 * libssh2 1.10 signs RSA logins with ssh-rsa (SHA-1), which the product refuses: the matrix
 * expects curl + RSA to be refused.
 */
import { hostKeySha256Base64 } from '../target.js';
import { mustRun, rejectSigAlg, versionLine, type Driver, type DriverRun, type ScenarioResult } from './types.js';

/** URL path of a client-side remote path: relative paths go through `/~/` (the start directory). */
function urlPath(path: string): string {
  const abs = path.startsWith('/') ? path : `/~/${path}`;
  return abs.split('/').map(encodeURIComponent).join('/').replace('/%7E/', '/~/');
}

export const curl: Driver = {
  name: 'curl',
  supportsRsaSigAlg: false,

  version: () => versionLine('curl', ['--version']),

  async run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    const { target, paths: p } = run;
    const key = target.keyFor(run.keyType);
    const base = `sftp://${target.host}:${target.port}`;
    const common = ['-sS', '--fail', '--connect-timeout', '15', '--max-time', '60', '-u', `${target.user}:`,
      '--key', key.privatePath, '--pubkey', key.publicPath, '--hostpubsha256', hostKeySha256Base64(target)];
    const opts = { cwd: run.workDir, timeoutMs: 70_000 };
    const log: string[] = [];
    const step = async (name: string, args: string[]): Promise<string> => {
      const res = await mustRun(`curl ${name}`, 'curl', [...common, ...args], opts);
      log.push(`$ curl ${args.join(' ')}\n${res.stdout}${res.stderr}`);
      return res.stdout;
    };
    await step('upload', ['-T', p.localUpload, base + urlPath(p.upload)]);
    const listing = await step('list', ['-l', `${base}${urlPath(p.dir)}/`]);
    await step('download', ['-o', p.localDownload, base + urlPath(p.upload)]);
    // Quote commands run before the (discarded) listing of the directory URL.
    await step('rename/rm/mkdir/rmdir', [
      '-Q', `rename ${p.upload} ${p.renamed}`,
      '-Q', `rm ${p.deleteMe}`,
      '-Q', `mkdir ${p.mkdir}`,
      '-Q', `rmdir ${p.rmdir}`,
      '-l', '-o', '/dev/null', `${base}${urlPath(p.dir)}/`,
    ]);
    return { listing, transcript: log.join('\n') };
  },
};
