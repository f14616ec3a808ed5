/**
 * OpenSSH's sftp regression scripts (those of openssh-tests 9.2p1), what each one checks, and how
 * its proxied run is set up. Every `sftp*.sh` the installed suite has must be named here, run or
 * left out with the reason: a new one in a later package fails the test until someone decides.
 */
import { readdirSync } from 'node:fs';
import { REGRESS_DIR } from './regress-run.js';
import type { UpstreamChoice } from './proxied-rig.js';

export interface SftpScript {
  name: string;
  /** What it exercises, for the reader of a report. */
  checks: string;
  /** Part of the default `npm test` run (the rest runs in `npm run test:regress`). */
  byDefault: boolean;
  upstream: UpstreamChoice;
  /** It moves or changes files, so the proxy's audit (the SFTP filter at work) must show events. */
  audited: boolean;
  /** Bound on one run of it, direct or proxied (generous: a loaded 2-core machine). */
  timeoutMs: number;
}

export const SFTP_SCRIPTS: SftpScript[] = [
  {
    name: 'sftp-perm',
    checks: 'every write class (upload, setstat, rm, mkdir, rmdir, rename, posix-rename, symlink, hardlink, statvfs) '
      + 'allowed by a plain sftp-server and refused by one started -R, -P or -p: denials from the upstream pass back',
    byDefault: true, upstream: {}, audited: true, timeoutMs: 240_000,
  },
  {
    name: 'sftp-cmds',
    checks: 'get/put (quoted names, spaces, glob metacharacters, globs, to directories), rename, ln, ln -s, cp '
      + '(copy-data), mkdir, rmdir, ls, and the client-side commands',
    byDefault: true, upstream: {}, audited: true, timeoutMs: 180_000,
  },
  {
    name: 'sftp-badcmds',
    checks: 'what must fail: get/put/rename of nonexistent files, rename onto a directory, glob put onto a file',
    byDefault: true, upstream: {}, audited: true, timeoutMs: 60_000,
  },
  {
    name: 'sftp-batch',
    checks: 'batch files: a failing command stops the batch, "-" prefixed ones do not, comments and junk',
    byDefault: true, upstream: {}, audited: true, timeoutMs: 60_000,
  },
  {
    name: 'sftp-glob',
    checks: 'ls -l of names with quotes, backslashes and spaces, by glob, escape and quoting',
    byDefault: true, upstream: {}, audited: false, timeoutMs: 60_000,
  },
  {
    name: 'sftp-uri',
    checks: 'sftp:// URIs: fetch to a file and a directory, put into a remote directory with and without a slash (over ssh)',
    byDefault: true, upstream: { sftpServerArgs: ['-d', '/'] }, audited: true, timeoutMs: 60_000,
  },
  {
    name: 'sftp-chroot',
    checks: 'a get from a server chrooted to /var/run (over ssh)',
    byDefault: true, upstream: { chroot: true }, audited: true, timeoutMs: 60_000,
  },
  {
    name: 'sftp',
    checks: 'put/get of a 474 KiB file with buffer sizes 5 to 64000 and 1 to 10 requests in flight: '
      + 'packet framing at every size (5-byte buffers: about 97,000 requests per transfer)',
    byDefault: false, upstream: {}, audited: true, timeoutMs: 600_000,
  },
];

/** In the package's directory, but not ours to run. */
export const LEFT_OUT: Record<string, string> = {
  'ssh-com-sftp': 'interoperability with the commercial SSH.com sftp2 client, which the suite\'s own Makefile leaves out too',
};

/** sftp scripts in the installed suite that this table does not mention (must be none). */
export function unknownScripts(): string[] {
  const known = new Set([...SFTP_SCRIPTS.map((s) => s.name), ...Object.keys(LEFT_OUT)]);
  return readdirSync(REGRESS_DIR)
    .filter((f) => /sftp.*\.sh$/.test(f))
    .map((f) => f.replace(/\.sh$/, ''))
    .filter((n) => !known.has(n));
}

/**
 * The scripts to run: the default set, or what PYSFTPPROXY_REGRESS names (`all`, or a
 * comma-separated list of script names).
 */
export function selectedScripts(selection = process.env.PYSFTPPROXY_REGRESS): SftpScript[] {
  if (!selection) return SFTP_SCRIPTS.filter((s) => s.byDefault);
  if (selection === 'all') return SFTP_SCRIPTS;
  const names = selection.split(',').map((n) => n.trim().replace(/\.sh$/, '')).filter(Boolean);
  const unknown = names.filter((n) => !SFTP_SCRIPTS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`PYSFTPPROXY_REGRESS names unknown scripts: ${unknown.join(', ')}`);
  return SFTP_SCRIPTS.filter((s) => names.includes(s.name));
}
