// --workers (node:cluster, N processes sharing the port): parallel large transfers through a proxy
// with one worker vs one per core, next to the same transfers straight to sshd, and the CPU each
// proxy process spent per MiB: on 2 busy cores more workers cannot go faster, but CPU per MiB per
// worker says how far they scale where cores are free (see bench/README.md). Not available when
// the proxy has no --workers option.
import os from 'node:os';
import { descendants, runCli } from '../../test/harness/index.js';
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, fmtRatio, type Row } from '../report.js';
import { procCpuTicks, type Endpoint } from '../stack.js';
import { bigFile, parallelTransfers } from '../transfers.js';
import { GCM, ratioRow, type PairSeries } from './throughput.js';

/** CPU ms each process of a proxy spent while `run` ran (the primary first, then its workers). */
async function cpuDuring(pids: number[], clkTck: number, run: () => Promise<number>): Promise<{ result: number; ms: number[] }> {
  const before = pids.map((p) => procCpuTicks(p).self);
  const result = await run();
  const ms = pids.map((p, i) => ((procCpuTicks(p).self - before[i]!) * 1000) / clkTck);
  return { result, ms };
}

export async function workers(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const help = await runCli(['--help'], {});
  if (!/--workers\b/.test(help.stdout + help.stderr)) {
    return { status: 'not available', notes: ['the proxy has no --workers option (checked `pysftpproxy --help`)'], rows: [], details: { supported: false } };
  }
  const n = Math.max(2, Math.min(4, os.cpus().length));
  const parallel = n;
  // Each client moves size/parallel, so a round moves --size-mib in all, as in the throughput case.
  const eachMiB = Math.max(1, Math.round(opts.sizeMiB / parallel));
  const file = await bigFile(ctx, eachMiB);
  const { proxy, endpoint: multi } = await stack.startExtraProxy({ workers: n });
  try {
    const single = stack.proxied; // the main proxy: one process
    const variants: { label: string; ep: Endpoint }[] = [
      { label: 'direct', ep: stack.direct },
      { label: 'workers=1', ep: single },
      { label: `workers=${n}`, ep: multi },
    ];
    const samples: Record<string, Record<string, number[]>> = {};
    // Per variant and direction: CPU ms of each proxy process summed over rounds, and MiB moved.
    const cpu: Record<string, { ms: number[]; mib: number }> = {};
    const multiPids = [proxy.pid, ...descendants(proxy.pid)];
    const pidsOf = (label: string): number[] => (label === 'workers=1' ? [single.pid] : label === 'direct' ? [] : multiPids);
    // warm-up: one parallel round through the multi-worker proxy (each worker's JIT)
    const small = await bigFile(ctx, Math.min(8, eachMiB));
    await parallelTransfers(ctx, multi, 'download', small, GCM, parallel, 'w-warm');
    for (let round = 0; round < opts.rounds; round++) {
      for (const d of ['download', 'upload'] as const) {
        for (const v of variants) {
          const { result: mibps, ms } = await cpuDuring(pidsOf(v.label), ctx.clkTck,
            () => parallelTransfers(ctx, v.ep, d, file, GCM, parallel, `w-${v.label.replace('=', '')}-${d}-${round}`));
          ((samples[d] ??= {})[v.label] ??= []).push(mibps);
          const c = (cpu[`${v.label}|${d}`] ??= { ms: ms.map(() => 0), mib: 0 });
          ms.forEach((m, i) => (c.ms[i] = (c.ms[i] ?? 0) + m));
          c.mib += (parallel * file.bytes) / (1024 * 1024);
          ctx.log(`  round ${round + 1} ${parallel}× ${d} ${v.label}: ${fmt(mibps)} MiB/s aggregate`);
        }
      }
    }
    const rows: Row[] = [];
    const notes: string[] = [];
    const perMiB: Record<string, unknown> = {};
    for (const d of ['download', 'upload'] as const) {
      const s = samples[d]!;
      const w: PairSeries = { baseline: s['workers=1']!, product: s[`workers=${n}`]! };
      rows.push(ratioRow(`${parallel}× parallel ${d} of ${eachMiB} MiB, aggregate MiB/s, ${GCM.label}`, 'workers=1', `workers=${n}`, w));
      const dv: PairSeries = { baseline: s['direct']!, product: s[`workers=${n}`]! };
      rows.push(ratioRow(`${parallel}× parallel ${d}, aggregate MiB/s: direct vs workers=${n}`, 'direct', `workers=${n}`, dv));
      // Each MiB is carried by one worker, so the workers' CPU summed ÷ MiB moved is the cost of a
      // MiB in a worker; each worker's share of it shows how evenly connections were spread.
      const one = cpu[`workers=1|${d}`]!;
      const many = cpu[`workers=${n}|${d}`]!;
      const oneMs = one.ms[0]! / one.mib;
      const workerMs = many.ms.slice(1);
      const manyMs = workerMs.reduce((a, b) => a + b, 0) / many.mib;
      const primaryMs = many.ms[0]! / many.mib;
      rows.push({
        measure: `proxy CPU ms per MiB in a worker, ${d}, ${GCM.label}`,
        baseline: `workers=1 ${fmt(oneMs, 2)}`,
        product: `workers=${n} ${fmt(manyMs, 2)} (primary ${fmt(primaryMs, 2)})`,
        ratio: fmtRatio(manyMs / oneMs),
        target: '',
        verdict: '',
        values: { workers1: oneMs, workersN: manyMs, primary: primaryMs, perWorkerMs: workerMs.join(',') },
      });
      const total = workerMs.reduce((a, b) => a + b, 0);
      const shares = workerMs.map((m) => `${fmt((100 * m) / total, 0)} %`).join(' / ');
      const perCore = 1000 / Math.max(oneMs, manyMs);
      notes.push(`${d}: worker CPU shares ${shares}; one worker saturates its core at ≈ 1000 ÷ ${fmt(Math.max(oneMs, manyMs), 2)} = ${fmt(perCore, 0)} MiB/s, so W workers on W free cores ≈ W × ${fmt(perCore, 0)} MiB/s (bench/README.md)`);
      perMiB[d] = { workers1: oneMs, workersN: manyMs, primary: primaryMs, perWorkerMs: workerMs.map((m) => m / many.mib), predictedMiBpsPerWorkerCore: perCore };
    }
    return {
      status: 'ok',
      notes: [`${parallel} sftp clients at once; "baseline" of the first row per direction is the single-process proxy; ${os.cpus().length} CPUs shared by clients, proxy and sshd`, ...notes],
      rows,
      details: { samples, workers: n, parallel, cpuPerMiB: perMiB },
    };
  } finally {
    await stack.stopProxy(proxy);
  }
}
