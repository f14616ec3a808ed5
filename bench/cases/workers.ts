// --workers (node:cluster, N processes sharing the port): parallel large transfers through a proxy
// with one worker vs one per core, next to the same transfers straight to sshd. Not available when
// the proxy has no --workers option.
import os from 'node:os';
import { runCli } from '../../test/harness/index.js';
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { bigFile, parallelTransfers } from '../transfers.js';
import { GCM, ratioRow, type PairSeries } from './throughput.js';

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
    // warm-up: one parallel round through the multi-worker proxy (each worker's JIT)
    const small = await bigFile(ctx, Math.min(8, eachMiB));
    await parallelTransfers(ctx, multi, 'download', small, GCM, parallel, 'w-warm');
    for (let round = 0; round < opts.rounds; round++) {
      for (const d of ['download', 'upload'] as const) {
        for (const v of variants) {
          const mibps = await parallelTransfers(ctx, v.ep, d, file, GCM, parallel, `w-${v.label.replace('=', '')}-${d}-${round}`);
          ((samples[d] ??= {})[v.label] ??= []).push(mibps);
          ctx.log(`  round ${round + 1} ${parallel}× ${d} ${v.label}: ${fmt(mibps)} MiB/s aggregate`);
        }
      }
    }
    const rows: Row[] = [];
    for (const d of ['download', 'upload'] as const) {
      const s = samples[d]!;
      const w: PairSeries = { baseline: s['workers=1']!, product: s[`workers=${n}`]! };
      rows.push(ratioRow(`${parallel}× parallel ${d} of ${eachMiB} MiB, aggregate MiB/s, ${GCM.label}`, 'workers=1', `workers=${n}`, w));
      const dv: PairSeries = { baseline: s['direct']!, product: s[`workers=${n}`]! };
      rows.push(ratioRow(`${parallel}× parallel ${d}, aggregate MiB/s: direct vs workers=${n}`, 'direct', `workers=${n}`, dv));
    }
    return {
      status: 'ok',
      notes: [`${parallel} sftp clients at once; "baseline" of the first row per direction is the single-process proxy; ${os.cpus().length} CPUs shared by clients, proxy and sshd`],
      rows,
      details: { samples, workers: n, parallel },
    };
  } finally {
    await stack.stopProxy(proxy);
  }
}
