// What every case gets: the options, the running stack, logging and the integrity-failure sink.
import type { CaseResult } from './report.js';
import type { Stack } from './stack.js';
import type { CpuSample } from './transfers.js';

export const ALL_CASES = ['throughput', 'filter', 'relay', 'local', 'small-files', 'latency', 'login', 'idle', 'cpu', 'workers'] as const;
export type CaseName = (typeof ALL_CASES)[number];

export interface BenchOptions {
  cases: CaseName[];
  /** Large-file size for throughput, local and cpu. */
  sizeMiB: number;
  rounds: number;
  /** Small-files case: number of files and size of each. */
  files: number;
  fileKiB: number;
  /** Latency case: round trips to put on the client's leg, large-file size, small-file count. */
  rttMs: number[];
  latencyMiB: number;
  latencyFiles: number;
  /** Login case: measured logins per side. */
  logins: number;
  idleSessions: number;
  /** Idle case: sessions connected at a time. */
  idleBatch: number;
  /** Idle case: open/hold/close cycles (RSS after each close shows leaks). */
  idleCycles: number;
  quick: boolean;
  json: boolean;
  /** NODE_OPTIONS for proxy processes (only flags node allows there). */
  proxyNodeArgs: string;
  /** Directory for V8 CPU profiles of the proxy processes ('' = none). */
  proxyCpuProf: string;
  keep: boolean;
}

export interface BenchContext {
  opts: BenchOptions;
  stack: Stack;
  /** Progress line on stderr. */
  log(line: string): void;
  /** Record a failed or corrupted transfer: printed loudly, makes the run exit 1. */
  failIntegrity(message: string): void;
  /** Clock ticks per second (for /proc/<pid>/stat CPU times). */
  clkTck: number;
  shared: {
    /** CPU samples of every large transfer (filled by throughput/local, read by cpu). */
    cpu: CpuSample[];
  };
}

export type CaseOutcome = Omit<CaseResult, 'name' | 'durationMs'>;
export type CaseRunner = (ctx: BenchContext) => Promise<CaseOutcome>;
