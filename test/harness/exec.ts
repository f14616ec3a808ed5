/** Run a short-lived command to completion, with a timeout. */
import { spawn, type SpawnOptions } from 'node:child_process';
import { basename } from 'node:path';
import { trackChild } from './process-registry.js';

export interface ExecResult {
  /** Exit code, or null if the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True if the harness killed the process because the timeout expired. */
  timedOut: boolean;
}

/**
 * Spawn `cmd args`, collect output, SIGKILL it after `timeoutMs`. On timeout a
 * line `[harness] TIMEOUT: `<cmd line>` killed after <ms> ms` is appended to stderr.
 * Never rejects for a non-zero exit; rejects only if the command cannot start.
 */
export function execFileCollect(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<ExecResult> {
  const { timeoutMs = 60_000 } = opts;
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    };
    const child = spawn(cmd, args, spawnOpts);
    trackChild(child, cmd);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        const line = [basename(cmd), ...args].join(' ');
        stderr += `\n[harness] TIMEOUT: \`${line}\` killed after ${timeoutMs} ms\n`;
      }
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
