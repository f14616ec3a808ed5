// `npm run bench`: starts redis, OpenSSH sshd and the proxy on loopback, runs the selected cases
// (each measuring the product side by side with OpenSSH, interleaved), prints a table or JSON.
// Exit status 1 if a transfer failed or was not byte-identical, or a case could not run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { execFileCollect, PROXY_BIN } from '../test/harness/index.js';
import { cpu } from './cases/cpu.js';
import { filter } from './cases/filter.js';
import { idle } from './cases/idle.js';
import { local } from './cases/local.js';
import { latency } from './cases/latency.js';
import { login } from './cases/login.js';
import { relay } from './cases/relay.js';
import { smallFiles } from './cases/small-files.js';
import { throughput } from './cases/throughput.js';
import { workers } from './cases/workers.js';
import { ALL_CASES, type BenchContext, type BenchOptions, type CaseName, type CaseRunner } from './context.js';
import { integrityBanner, renderJson, renderText, type BenchReport, type CaseResult } from './report.js';
import { Stack } from './stack.js';

const RUNNERS: Record<CaseName, CaseRunner> = {
  throughput,
  filter,
  relay,
  local,
  'small-files': smallFiles,
  latency,
  login,
  idle,
  cpu,
  workers,
};

const HELP = `Usage: npm run bench -- [options]     (or: node dist/bench/main.js [options])

Measures pysftpproxy side by side with OpenSSH on loopback (own redis-server, sshd and proxy
processes), interleaving baseline and product runs, and prints medians and ratios.

Options:
  --cases a,b,...        cases to run (default: all): ${ALL_CASES.join(', ')}
  --size-mib N           large-file size for throughput/local/cpu (default 256; --quick 16)
  --rounds N             interleaved rounds per measure, median taken (default 3; --quick 1)
  --files N              small-files: number of files (default 1000; --quick 100)
  --file-kib N           small-files: size of each file in KiB (default 4)
  --rtt-ms a,b,...       latency: round trips on the client's leg, ms (default 20; e.g. 20,50)
  --latency-mib N        latency: large-file size (default 64; --quick 16)
  --latency-files N      latency: number of small files (default 200; --quick 10)
  --logins N             login: measured logins per side (default 50; --quick 10)
  --idle-sessions N      idle: concurrent proxied sessions (default 1000; --quick 50)
  --idle-batch N         idle: sessions connecting at a time (default 50)
  --idle-cycles N        idle: open/close cycles, RSS after each close (default 1)
  --quick                ~1-minute smoke run with small sizes
  --json                 JSON on stdout (the table goes to stderr)
  --proxy-node-args=S    NODE_OPTIONS for the proxy processes (flags node allows there,
                         e.g. --proxy-node-args="--max-semi-space-size=64")
  --proxy-cpu-prof DIR   write a V8 CPU profile of each proxy process into DIR when it exits
                         (node refuses --cpu-prof in NODE_OPTIONS; this uses the inspector);
                         summarise with: node dist/bench/profile-summary.js DIR/*.cpuprofile
  --keep                 keep the work directory (under /dev/shm)
  -h, --help             this text
`;

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: 'string' },
      'size-mib': { type: 'string' },
      rounds: { type: 'string' },
      files: { type: 'string' },
      'file-kib': { type: 'string' },
      'rtt-ms': { type: 'string' },
      'latency-mib': { type: 'string' },
      'latency-files': { type: 'string' },
      logins: { type: 'string' },
      'idle-sessions': { type: 'string' },
      'idle-batch': { type: 'string' },
      'idle-cycles': { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'proxy-node-args': { type: 'string' },
      'proxy-cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const int = (name: string, v: string | undefined, dflt: number, minimum = 1): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < minimum) throw new Error(`--${name} ${v}: expected a number ≥ ${minimum}`);
    return n;
  };
  let cases: CaseName[] = [...ALL_CASES];
  if (values.cases) {
    const asked = values.cases.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = asked.filter((c) => !(ALL_CASES as readonly string[]).includes(c));
    if (unknown.length > 0) throw new Error(`--cases: unknown ${unknown.join(', ')}; choose from ${ALL_CASES.join(', ')}`);
    cases = ALL_CASES.filter((c) => asked.includes(c)); // run in the canonical order
  }
  return {
    cases,
    sizeMiB: int('size-mib', values['size-mib'], quick ? 16 : 256),
    rounds: Math.round(int('rounds', values.rounds, quick ? 1 : 3)),
    files: Math.round(int('files', values.files, quick ? 100 : 1000)),
    fileKiB: int('file-kib', values['file-kib'], 4),
    rttMs: (values['rtt-ms'] ?? '20').split(',').map((v) => int('rtt-ms', v.trim(), 0, 1)),
    latencyMiB: int('latency-mib', values['latency-mib'], quick ? 16 : 64),
    latencyFiles: Math.round(int('latency-files', values['latency-files'], quick ? 10 : 200)),
    logins: Math.round(int('logins', values.logins, quick ? 10 : 50)),
    idleSessions: Math.round(int('idle-sessions', values['idle-sessions'], quick ? 50 : 1000)),
    idleBatch: Math.round(int('idle-batch', values['idle-batch'], 50)),
    idleCycles: Math.round(int('idle-cycles', values['idle-cycles'], 1)),
    quick,
    json: values.json ?? false,
    proxyNodeArgs: values['proxy-node-args'] ?? '',
    proxyCpuProf: values['proxy-cpu-prof'] ?? '',
    keep: values.keep ?? false,
  };
}

async function environment(): Promise<Record<string, string | number | boolean>> {
  const require = createRequire(import.meta.url);
  const ssh2Version = (require('ssh2/package.json') as { version: string }).version;
  let binding = false;
  try {
    binding = Boolean((require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable);
  } catch {
    binding = false;
  }
  const sshV = await execFileCollect('ssh', ['-V'], { timeoutMs: 10_000 }).catch(() => null);
  const cpus = os.cpus();
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' }).trim();
    if (dirty) commit += ' + uncommitted changes';
  } catch {
    // not a git checkout
  }
  const limits = readFileSync('/proc/self/limits', 'utf8');
  return {
    node: process.version,
    ssh2: ssh2Version,
    'ssh2 native crypto binding': binding,
    CPUs: `${cpus.length} × ${cpus[0]?.model ?? '?'}`,
    OpenSSH: (sshV?.stderr || sshV?.stdout || '?').trim(),
    kernel: `${os.type()} ${os.release()}`,
    'load average at start': os.loadavg().map((l) => l.toFixed(2)).join(' '),
    'open files limit': /^Max open files\s+(\S+)/m.exec(limits)?.[1] ?? '?',
    proxy: `${PROXY_BIN} (git ${commit})`,
  };
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const t0 = Date.now();
  const log = (line: string): void => {
    process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  };
  const env = await environment();
  for (const [k, v] of Object.entries(env)) log(`${k}: ${String(v)}`);

  const integrityFailures: string[] = [];
  let stack: Stack;
  try {
    stack = await Stack.start({ proxyNodeArgs: opts.proxyNodeArgs, proxyCpuProfDir: opts.proxyCpuProf || undefined, keep: opts.keep, log });
  } catch (err) {
    process.stderr.write(`bench: cannot start the stack: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const ctx: BenchContext = {
    opts,
    stack,
    log,
    clkTck,
    failIntegrity: (m) => {
      integrityFailures.push(m);
      log(`!!! INTEGRITY FAILURE: ${m}`);
    },
    shared: { cpu: [] },
  };
  if (stack.proxy.output().includes('native crypto binding missing')) env['proxy warns'] = 'ssh2 native crypto binding missing';

  const results: CaseResult[] = [];
  try {
    for (const name of opts.cases) {
      const started = Date.now();
      log(`case ${name} …`);
      try {
        const outcome = await RUNNERS[name](ctx);
        results.push({ name, durationMs: Date.now() - started, ...outcome });
        log(`case ${name}: ${outcome.status} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (err) {
        const message = (err as Error).stack ?? String(err);
        log(`case ${name} FAILED: ${message}`);
        results.push({ name, status: 'failed', notes: [`crashed: ${(err as Error).message}`], rows: [], details: { error: message }, durationMs: Date.now() - started });
      }
    }
  } finally {
    if (opts.proxyCpuProf) log(`stopping proxies: CPU profiles go to ${opts.proxyCpuProf}`);
    await stack.close();
  }
  env['load average at end'] = os.loadavg().map((l) => l.toFixed(2)).join(' ');

  const report: BenchReport = {
    startedAt: new Date(t0).toISOString(),
    durationMs: Date.now() - t0,
    options: { ...opts },
    environment: env,
    cases: results,
    integrityFailures,
  };
  const text = renderText(report);
  if (opts.json) {
    process.stderr.write(text);
    process.stdout.write(renderJson(report));
  } else {
    process.stdout.write(text);
  }
  if (integrityFailures.length > 0) process.stderr.write(`\n${integrityBanner(integrityFailures)}\n`);
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) process.stderr.write(`bench: case(s) failed: ${failed.map((r) => r.name).join(', ')}\n`);
  return integrityFailures.length > 0 || failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
