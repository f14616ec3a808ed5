/** The real OpenSSH `sftp` client, run non-interactively in batch mode. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileCollect, type ExecResult } from './exec.js';
import { knownHostsEntry } from './keys.js';

export interface RunSftpOptions {
  port: number;
  /** Login user name (default `root`). */
  user?: string;
  /** Private key file passed with -i (IdentitiesOnly=yes). */
  keyPath: string;
  /** known_hosts file (StrictHostKeyChecking=yes). */
  knownHostsPath: string;
  /**
   * Batch commands, one per entry (`put a b`, `get a b`, `ls -l`, ...). As in
   * sftp -b, the first failing command aborts the batch with exit code 1
   * unless it is prefixed with `-`.
   */
  batch: string[];
  /** Working directory of the client (relative local paths). */
  cwd?: string;
  /** Kill the client after this long (default 60 s); result.timedOut is then true. */
  timeoutMs?: number;
  /** Extra arguments placed before the destination, e.g. ['-o', 'LogLevel=DEBUG'] or ['-R', '4']. */
  extraArgs?: string[];
  /** Host to connect to (default 127.0.0.1). */
  host?: string;
}

export type SftpResult = ExecResult;

/**
 * Run `sftp -b BATCHFILE -P PORT -i KEY -o IdentitiesOnly=yes -o BatchMode=yes
 * -o StrictHostKeyChecking=yes -o UserKnownHostsFile=KH -o ConnectTimeout=5
 * user@127.0.0.1`. The user's ~/.ssh/config and the global known_hosts are
 * ignored (`-F /dev/null`, GlobalKnownHostsFile=/dev/null). Resolves with the
 * exit code and output (never rejects on failure); on timeout the client is
 * SIGKILLed, `timedOut` is true and stderr says so.
 */
export async function runSftp(opts: RunSftpOptions): Promise<SftpResult> {
  const dir = await mkdtemp(join(tmpdir(), 'pysftpproxy-sftpbatch-'));
  try {
    const batchPath = join(dir, 'batch');
    await writeFile(batchPath, opts.batch.map((l) => `${l}\n`).join(''));
    const args = [
      '-F', '/dev/null',
      '-b', batchPath,
      '-P', String(opts.port),
      '-i', opts.keyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${opts.knownHostsPath}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'ConnectTimeout=5',
      ...(opts.extraArgs ?? []),
      `${opts.user ?? 'root'}@${opts.host ?? '127.0.0.1'}`,
    ];
    return await execFileCollect('sftp', args, { cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 60_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Write a known_hosts file at `path` trusting `hostPublicKeyLine` for
 * `[host]:port` (host defaults to 127.0.0.1). Returns the path.
 */
export async function writeKnownHosts(
  path: string,
  hostPublicKeyLine: string,
  port: number,
  host = '127.0.0.1',
): Promise<string> {
  await writeFile(path, `${knownHostsEntry(hostPublicKeyLine, port, host)}\n`);
  return path;
}
