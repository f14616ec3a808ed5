/**
 * The contract every real-client driver implements: one scenario, run non-interactively with
 * the target's host key verified, that uploads, lists, downloads, renames, deletes, makes and
 * removes a directory. Drivers report what the client saw; the matrix checks that and the disk.
 */
import { execFileCollect, type ExecResult } from '../../harness/index.js';
import type { ClientKeyType, Target } from '../target.js';

/** RSA signature algorithms a driver can be told to use (only where `supportsRsaSigAlg`). */
export type RsaSigAlg = 'rsa-sha2-256' | 'rsa-sha2-512' | 'ssh-rsa';

/** Client-side remote paths (see remotePath()) and local files of one scenario. */
export interface ScenarioPaths {
  /** The case directory; it exists and holds `deleteMe` and `rmdir` before the run. */
  dir: string;
  /** Upload destination: `<dir>/up.bin`. */
  upload: string;
  /** `upload` is renamed to this: `<dir>/moved.bin`. */
  renamed: string;
  /** An existing file the client deletes. */
  deleteMe: string;
  /** A directory the client creates. */
  mkdir: string;
  /** An existing empty directory the client removes. */
  rmdir: string;
  /** Local file to upload (absolute). */
  localUpload: string;
  /** Where the download is written (absolute; does not exist before). */
  localDownload: string;
}

export interface DriverRun {
  target: Target;
  keyType: ClientKeyType;
  /** Force this RSA signature algorithm (keyType 'rsa', drivers with supportsRsaSigAlg only). */
  rsaSigAlg?: RsaSigAlg;
  /** Private local scratch directory for this run (HOME, converted keys, mount point...). */
  workDir: string;
  paths: ScenarioPaths;
}

export interface ScenarioResult {
  /** What the client printed/returned for the listing of `paths.dir` (names appear in it). */
  listing: string;
  /** Everything the client said, for diagnostics. */
  transcript: string;
}

export interface Driver {
  /** Short name used in test names and the README table, e.g. `openssh-sftp`. */
  readonly name: string;
  /** Whether `rsaSigAlg` can be forced. */
  readonly supportsRsaSigAlg: boolean;
  /** One line naming the client and its version; rejects if the client is not installed. */
  version(): Promise<string>;
  /** Run the whole scenario in order; rejects with a DriverError naming the failing step. */
  run(run: DriverRun): Promise<ScenarioResult>;
}

/** A client command failed: the message carries the command, exit status and output. */
export class DriverError extends Error {
  constructor(message: string, readonly output: string) {
    super(`${message}\n${output}`);
  }
}

export function describeExec(cmd: string, args: string[], res: ExecResult): string {
  return [
    `$ ${[cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`,
    `exit code ${res.code}${res.signal ? ` signal ${res.signal}` : ''}${res.timedOut ? ' (timed out)' : ''}`,
    res.stdout && `stdout:\n${res.stdout}`,
    res.stderr && `stderr:\n${res.stderr}`,
  ].filter(Boolean).join('\n');
}

/** Run a client command; reject with a DriverError unless it exits 0 in time. */
export async function mustRun(
  step: string,
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<ExecResult> {
  let res: ExecResult;
  try {
    res = await execFileCollect(cmd, args, { timeoutMs: 60_000, ...opts });
  } catch (err) {
    throw new DriverError(`${step}: cannot run ${cmd} (not installed?)`, String(err));
  }
  if (res.code !== 0 || res.timedOut) throw new DriverError(`${step} failed`, describeExec(cmd, args, res));
  return res;
}

/** First non-empty line of a version command's output; rejects if the command cannot run. */
export async function versionLine(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const res = await mustRun(`${cmd} version`, cmd, args, { timeoutMs: 20_000, ...opts });
  const line = `${res.stdout}\n${res.stderr}`.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  if (!line) throw new DriverError(`${cmd}: empty version output`, describeExec(cmd, args, res));
  return line;
}

/**
 * The output lines that follow the echoed batch command `<prompt> <command>` up to the next
 * echoed command (OpenSSH sftp and psftp echo each batch line with their prompt).
 */
export function outputOfBatchCommand(stdout: string, prompt: string, command: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.trim() === `${prompt} ${command}`);
  if (start < 0) return '';
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith(`${prompt} `)) break;
    out.push(l);
  }
  return out.join('\n');
}

export function rejectSigAlg(driver: Driver, run: DriverRun): void {
  if (run.rsaSigAlg && !driver.supportsRsaSigAlg) throw new Error(`${driver.name} cannot force an RSA signature algorithm`);
}
