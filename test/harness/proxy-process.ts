/** Our product (`node bin/pysftpproxy`) run as a real child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileCollect, type ExecResult } from './exec.js';
import { stopChild, trackChild } from './process-registry.js';

/** One parsed pino JSON log line. */
export type LogLine = { [key: string]: unknown; msg?: string; level?: number };

/** Repository root: nearest ancestor of this file with the project's package.json. */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pysftpproxy') return dir;
      } catch {
        // keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the pysftpproxy repository root');
    dir = up;
  }
})();

/** Path of the CLI entry point. */
export const PROXY_BIN = join(REPO_ROOT, 'bin', 'pysftpproxy');

/**
 * Environment for the product: process.env without any SFTPPROXY_* variables
 * (and without node:test's NODE_TEST_CONTEXT), overlaid with `env`. A value of
 * `undefined` in `env` removes the variable.
 */
export function proxyEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SFTPPROXY_') || k === 'NODE_TEST_CONTEXT') continue;
    out[k] = v;
  }
  // Tests make thousands of failing logins on purpose, all from 127.0.0.1: the brute-force
  // defender (on by default) would ban the test client itself. Tests of the defender attack from
  // other loopback addresses (127.0.0.2, ...) and see 127.0.0.1 stay allowed, or set this.
  out['SFTPPROXY_DEFENDER_ALLOW'] = '127.0.0.1';
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

export interface StartProxyOptions {
  /** CLI arguments after `bin/pysftpproxy`. */
  args?: string[];
  /** Environment overlay (see proxyEnv). */
  env?: Record<string, string | undefined>;
  /** Working directory (default: repository root). */
  cwd?: string;
  /** How long to wait for the `listening` log line (default 15 s). */
  timeoutMs?: number;
}

export interface ProxyHandle {
  readonly pid: number;
  /** Port from the `listening` log line. */
  readonly port: number;
  /** The `listening` log line itself. */
  readonly listeningLog: LogLine;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Exit code once exited (null while running or if killed by a signal). */
  readonly exitCode: number | null;
  /** All JSON log lines parsed from stdout so far (a copy). */
  logs(): LogLine[];
  /**
   * Resolve with the first log line (at index >= `since`, default 0, so lines
   * already received count) matching `predicate`. Rejects with the collected
   * output on timeout (default 10 s) or if the process exits first.
   */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number, since?: number): Promise<LogLine>;
  /** Everything written to stdout and stderr so far (interleaved as received). */
  output(): string;
  /** Resolves with the exit code (null if signalled) when the process exits. */
  waitForExit(): Promise<number | null>;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code (null if signalled). */
  stop(): Promise<number | null>;
  /** SIGKILL; resolves when gone. */
  kill(): Promise<number | null>;
  /** Throws if the product logged a "bug: ..." line (stop() and kill() check this too). */
  assertNoBugs(): void;
}

type Waiter = { predicate: (l: LogLine) => boolean; since: number; resolve: (l: LogLine) => void; reject: (e: Error) => void };

class ProxyProcess implements ProxyHandle {
  private readonly lines: LogLine[] = [];
  private out = '';
  private partial = '';
  private waiters = new Set<Waiter>();
  private closed = false;
  private readonly closedPromise: Promise<void>;
  port = 0;
  listeningLog: LogLine = {};

  constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.onStdout(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.closedPromise = new Promise((resolve) => {
      child.once('close', () => {
        if (this.partial) this.onLine(this.partial);
        this.partial = '';
        this.closed = true;
        const err = new Error(`proxy exited (code ${child.exitCode}, signal ${child.signalCode}) before the awaited log line\n${this.out}`);
        for (const w of this.waiters) w.reject(err);
        this.waiters.clear();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }
  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  private onStdout(data: string): void {
    this.out += data;
    const parts = (this.partial + data).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.onLine(line);
  }

  private onLine(line: string): void {
    const text = line.trim();
    if (!text.startsWith('{')) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return;
    const entry = parsed as LogLine;
    const index = this.lines.length;
    this.lines.push(entry);
    for (const w of this.waiters) {
      if (index >= w.since && w.predicate(entry)) {
        this.waiters.delete(w);
        w.resolve(entry);
      }
    }
  }

  logs(): LogLine[] {
    return [...this.lines];
  }

  output(): string {
    return this.out;
  }

  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 10_000, since = 0): Promise<LogLine> {
    for (let i = since; i < this.lines.length; i++) {
      if (predicate(this.lines[i]!)) return Promise.resolve(this.lines[i]!);
    }
    if (this.closed) {
      return Promise.reject(new Error(`proxy already exited (code ${this.child.exitCode}); log line not found\n${this.out}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching proxy log line within ${timeoutMs} ms\n${this.out}`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        since,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(waiter);
    });
  }

  async waitForExit(): Promise<number | null> {
    await this.closedPromise;
    return this.child.exitCode;
  }

  async stop(): Promise<number | null> {
    const code = await stopChild(this.child, { graceMs: 5000 });
    await this.closedPromise;
    this.assertNoBugs();
    return code;
  }

  async kill(): Promise<number | null> {
    const code = await stopChild(this.child, { signal: 'SIGKILL' });
    await this.closedPromise;
    this.assertNoBugs();
    return code;
  }

  /**
   * The product logs "bug: ..." for an exception no handler caught (and keeps running): any
   * test whose product logged one fails when it stops the product.
   */
  assertNoBugs(): void {
    const bugs = this.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('bug:'));
    if (bugs.length > 0) throw new Error(`the product logged ${bugs.length} bug line(s):\n${bugs.map((b) => JSON.stringify(b)).join('\n')}`);
  }
}

/**
 * Start `node bin/pysftpproxy ...args` (cwd: repo root) and wait until it logs
 * a JSON line with `msg === 'listening'` carrying a numeric `port`. Rejects
 * with the collected output if the process exits first or `timeoutMs`
 * (default 15 s) passes; in that case the process is killed.
 */
export async function startProxy(opts: StartProxyOptions = {}): Promise<ProxyHandle> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const child = spawn(process.execPath, [PROXY_BIN, ...(opts.args ?? [])], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: proxyEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child, 'pysftpproxy');
  const proxy = new ProxyProcess(child);
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot spawn proxy: ${err.message}`))),
  );
  spawnFailed.catch(() => {}); // only meaningful inside the race below
  try {
    const line = await Promise.race([
      proxy.waitForLog((l) => l.msg === 'listening' && typeof l.port === 'number', timeoutMs).catch((err: Error) => {
        throw new Error(`startProxy: no {"msg":"listening","port":N} log line: ${err.message}`);
      }),
      spawnFailed,
    ]);
    proxy.port = line.port as number;
    proxy.listeningLog = line;
    return proxy;
  } catch (err) {
    await proxy.kill();
    throw err;
  }
}

export type CliResult = ExecResult;

/**
 * Run `node bin/pysftpproxy ...args` expecting it to exit by itself (e.g. on a
 * configuration error). Killed after `timeoutMs` (default 15 s), which is
 * reported via `timedOut` and a line on stderr.
 */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return execFileCollect(process.execPath, [PROXY_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: proxyEnv(env),
    timeoutMs: opts.timeoutMs ?? 15_000,
  });
}
