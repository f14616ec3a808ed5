// N concurrent proxied SFTP sessions held open by ssh2 clients in a child process: errors (must be
// 0) and the proxy's RSS per session, on a fresh proxy process (so earlier transfers' buffers do
// not hide the growth).
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { descendants, trackChild } from '../../test/harness/index.js';
import type { BenchContext, CaseOutcome } from '../context.js';
import type { IdleCommand, IdleReply } from '../idle-client.js';
import { fmt, verdict, type Row } from '../report.js';
import { procStatus, type Endpoint } from '../stack.js';
import { median } from '../stats.js';

const TARGET_SESSIONS = 1000;
const TARGET_KIB = 100;

class IdleClients {
  private readonly child: ChildProcess;
  private readonly waiting: { type: IdleReply['type']; resolve: (r: IdleReply) => void }[] = [];
  private exited: Promise<void>;

  constructor(private readonly onProgress: (r: IdleReply & { type: 'progress' }) => void) {
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'idle-client.js');
    this.child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    trackChild(this.child, 'bench idle-client');
    this.child.on('message', (r: IdleReply) => {
      if (r.type === 'progress') return this.onProgress(r);
      const i = this.waiting.findIndex((w) => w.type === r.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(r);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.exited.then(() => {
      for (const w of this.waiting.splice(0)) w.resolve({ type: 'closed', ms: NaN } as IdleReply);
    });
  }

  request<T extends IdleReply['type']>(cmd: IdleCommand, reply: T): Promise<IdleReply & { type: T }> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error('idle-client child exited'));
      this.waiting.push({ type: reply, resolve: (r) => (r.type === reply ? resolve(r as IdleReply & { type: T }) : reject(new Error('idle-client child exited'))) });
      this.child.send(cmd);
    });
  }

  async exit(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) this.child.send({ cmd: 'exit' } satisfies IdleCommand);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Heap in use after a full GC (KiB), from the memory-probe preload (SIGUSR2 → JSON file). */
async function heapAfterGcKiB(pid: number, file: string): Promise<{ heapUsedKiB: number; externalKiB: number; rssKiB: number }> {
  const read = (): { seq: number; heapUsed: number; external: number; rss: number } | undefined => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { seq: number; heapUsed: number; external: number; rss: number };
    } catch {
      return undefined;
    }
  };
  const seq = read()?.seq ?? 0;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = read();
    if (r && r.seq > seq) return { heapUsedKiB: r.heapUsed / 1024, externalKiB: r.external / 1024, rssKiB: r.rss / 1024 };
    if (Date.now() > deadline) return { heapUsedKiB: NaN, externalKiB: NaN, rssKiB: NaN };
    await sleep(50);
  }
}

/** Median VmRSS (KiB) over `samples` readings `gapMs` apart. */
async function rssKiB(pid: number, samples = 5, gapMs = 200): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(procStatus(pid).rssKiB);
    if (i < samples - 1) await sleep(gapMs);
  }
  return median(values);
}

/** Sum of Pss (KiB) over sshd's per-connection processes, and their count. */
function sshdSessionPss(sshdPid: number): { pssKiB: number; processes: number } {
  let pssKiB = 0;
  const pids = descendants(sshdPid);
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return { pssKiB, processes: pids.length };
}

/** How many sessions this machine can hold, and what bounds it. */
function sessionCapacity(wanted: number): { n: number; reasons: string[]; facts: Record<string, number> } {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const nofile = Number(/^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1] ?? 1024) || 1_000_000;
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  const threadsMax = Number(readFileSync('/proc/sys/kernel/threads-max', 'utf8'));
  const procs = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  const memAvailKiB = Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  // Proxy: two sockets per session (client + upstream); sshd: about two processes per session and
  // a few MiB; 4 MiB per session in all is a generous bound.
  const bounds: [string, number][] = [
    [`open files limit ${nofile} (the proxy holds 2 sockets per session; raise with ulimit -n)`, Math.floor((nofile - 200) / 2)],
    [`process limit (pid_max ${pidMax}, threads-max ${threadsMax}, ${procs} running; sshd runs ~2 processes per session)`, Math.floor((Math.min(pidMax, threadsMax) - procs - 500) / 2)],
    [`available memory ${Math.round(memAvailKiB / 1024)} MiB (~4 MiB per session with sshd upstream)`, Math.floor(memAvailKiB / 4096)],
  ];
  let n = wanted;
  const reasons: string[] = [];
  for (const [why, cap] of bounds) {
    if (cap < n) {
      n = Math.max(0, cap);
      reasons.push(`limited to ${n} sessions by ${why}`);
    }
  }
  return { n, reasons, facts: { nofile, pidMax, threadsMax, procs, memAvailMiB: Math.round(memAvailKiB / 1024) } };
}

export async function idle(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const notes: string[] = [];
  const cap = sessionCapacity(opts.idleSessions);
  notes.push(...cap.reasons);
  const n = cap.n;
  const probe = join(stack.work, `memory-probe-${Date.now()}.json`);
  const { proxy, endpoint } = await stack.startExtraProxy({ memoryProbe: probe });
  ctx.log(`  fresh proxy pid ${proxy.pid} port ${proxy.port}; holding ${n} sessions, ${opts.idleBatch} connecting at a time`);
  const clients = new IdleClients((p) => ctx.log(`  ${p.open} open, ${p.errors} errors`));
  const settleMs = opts.quick ? 1000 : 2000;
  try {
    const hostFingerprint = createHash('sha256').update(Buffer.from(stack.proxyHostKey.blobBase64, 'base64')).digest('base64');
    const openCmd = (ep: Endpoint, count: number): IdleCommand => ({
      cmd: 'open', port: ep.port, user: ep.user, keyPath: stack.userKey.privatePath, hostFingerprint, count, batch: opts.idleBatch,
    });

    // Warm-up: load the code paths once so the baseline is a warmed-up idle proxy.
    const warm = await clients.request(openCmd(endpoint, Math.min(20, n)), 'opened');
    await clients.request({ cmd: 'close' }, 'closed');
    if (warm.errors > 0) notes.push(`warm-up: ${warm.errors} error(s): ${warm.errorSamples.join('; ')}`);
    await sleep(settleMs);
    const before = await rssKiB(proxy.pid);
    const heapBefore = await heapAfterGcKiB(proxy.pid, probe);

    const opened = await clients.request(openCmd(endpoint, n), 'opened');
    await sleep(settleMs);
    const withN = await rssKiB(proxy.pid, 10, 200);
    const sshdMem = sshdSessionPss(stack.sshd.pid);
    const heapWith = await heapAfterGcKiB(proxy.pid, probe);
    const checked = await clients.request({ cmd: 'check' }, 'checked');
    const closed = await clients.request({ cmd: 'close' }, 'closed');
    await sleep(settleMs);
    const after = await rssKiB(proxy.pid);
    const heapAfter = await heapAfterGcKiB(proxy.pid, probe);
    const hwm = procStatus(proxy.pid).hwmKiB;

    // Further open/close cycles (--idle-cycles): RSS after each close should level off, not climb.
    const cycles: { withKiB: number; afterKiB: number; heapAfterGcKiB: number; errors: number }[] =
      [{ withKiB: withN, afterKiB: after, heapAfterGcKiB: heapAfter.heapUsedKiB, errors: 0 }];
    let laterErrors = 0;
    for (let c = 2; c <= opts.idleCycles && opened.open === n && opened.errors === 0; c++) {
      const o = await clients.request(openCmd(endpoint, n), 'opened');
      await sleep(settleMs);
      const w = await rssKiB(proxy.pid);
      const ch = await clients.request({ cmd: 'check' }, 'checked');
      await clients.request({ cmd: 'close' }, 'closed');
      await sleep(settleMs);
      const a = await rssKiB(proxy.pid);
      const h = await heapAfterGcKiB(proxy.pid, probe);
      const e = o.errors + ch.failed + ch.dropped + (n - o.open - o.errors);
      laterErrors += e;
      cycles.push({ withKiB: w, afterKiB: a, heapAfterGcKiB: h.heapUsedKiB, errors: e });
      ctx.log(`  cycle ${c}: RSS ${fmt(w / 1024)} MiB with ${o.open} sessions, ${fmt(a / 1024)} MiB after closing (heap after GC ${fmt(h.heapUsedKiB / 1024)} MiB); ${e} errors`);
    }
    if (cycles.length > 1) {
      notes.push(`${cycles.length} open/close cycles: RSS with sessions ${cycles.map((c) => fmt(c.withKiB / 1024)).join(' → ')} MiB, ` +
        `after closing ${cycles.map((c) => fmt(c.afterKiB / 1024)).join(' → ')} MiB; heap after GC once closed ` +
        `${cycles.map((c) => fmt(c.heapAfterGcKiB / 1024)).join(' → ')} MiB (a steady climb would mean a leak)`);
    }

    const errors = opened.errors + checked.failed + checked.dropped + laterErrors;
    const perSession = opened.open > 0 ? (withN - before) / opened.open : NaN;
    const heapPerSession = opened.open > 0 ? (heapWith.heapUsedKiB - heapBefore.heapUsedKiB) / opened.open : NaN;
    const sshdPerSession = opened.open > 0 ? sshdMem.pssKiB / opened.open : NaN;
    const errorText = [...opened.errorSamples, ...checked.errorSamples];
    if (errorText.length > 0) notes.push(`errors: ${errorText.slice(0, 5).join('; ')}`);
    if (opened.stoppedEarly) notes.push(`stopped opening after a whole batch failed: the largest N that held is ${opened.open}`);
    notes.push(`proxy RSS ${fmt(before / 1024)} MiB before, ${fmt(withN / 1024)} MiB with ${opened.open} sessions, ` +
      `${fmt(after / 1024)} MiB after closing them (peak ${fmt(hwm / 1024)} MiB); opening took ${fmt(opened.ms / 1000)} s ` +
      `(${fmt(opened.open / (opened.ms / 1000), 0)} logins/s); closing ${fmt(closed.ms / 1000)} s`);
    notes.push(`proxy heap in use after a full GC: ${fmt(heapBefore.heapUsedKiB / 1024)} MiB before, ${fmt(heapWith.heapUsedKiB / 1024)} MiB with ` +
      `${opened.open} sessions (${fmt(heapPerSession, 1)} KiB each; external ${fmt((heapWith.externalKiB - heapBefore.externalKiB) / Math.max(1, opened.open), 1)} KiB each), ` +
      `${fmt(heapAfter.heapUsedKiB / 1024)} MiB after closing`);
    notes.push(`sshd (upstream) had ${sshdMem.processes} session processes, Pss ${fmt(sshdMem.pssKiB / 1024)} MiB in all`);

    const atTarget = n >= TARGET_SESSIONS;
    const rows: Row[] = [
      {
        measure: `idle sessions held, errors`,
        baseline: '',
        product: `${opened.open}/${opts.idleSessions} open, ${errors} errors`,
        ratio: '',
        target: atTarget ? `0 errors at ${TARGET_SESSIONS}` : `0 errors (run at ${n}; target is at ${TARGET_SESSIONS})`,
        verdict: verdict(errors === 0 && opened.open === n && (atTarget || opts.idleSessions < TARGET_SESSIONS)),
        values: { requested: opts.idleSessions, attempted: n, open: opened.open, openErrors: opened.errors, checkFailed: checked.failed, dropped: checked.dropped, laterCycleErrors: laterErrors, errors },
      },
      {
        measure: 'proxy RSS per idle session, KiB',
        baseline: `sshd Pss ${fmt(sshdPerSession, 0)}`,
        product: `proxy ${fmt(perSession, 1)}`,
        ratio: '',
        target: `≤ ${TARGET_KIB}`,
        verdict: verdict(perSession <= TARGET_KIB),
        values: { perSessionKiB: perSession, rssBeforeKiB: before, rssWithKiB: withN, rssAfterKiB: after, hwmKiB: hwm, sshdPssPerSessionKiB: sshdPerSession },
      },
      {
        measure: 'proxy JS heap per idle session after full GC, KiB',
        baseline: '',
        product: `proxy ${fmt(heapPerSession, 1)}`,
        ratio: '',
        target: '',
        verdict: '',
        values: { heapPerSessionKiB: heapPerSession, heapBeforeKiB: heapBefore.heapUsedKiB, heapWithKiB: heapWith.heapUsedKiB, heapAfterKiB: heapAfter.heapUsedKiB },
      },
    ];
    return { status: 'ok', notes, rows, details: { capacity: cap.facts, opened, checked, closed, sshdMem, cycles } };
  } finally {
    await clients.exit();
    await stack.stopProxy(proxy);
  }
}
