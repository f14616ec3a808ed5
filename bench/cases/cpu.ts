// Server-side CPU milliseconds per MiB moved, from /proc/<pid>/stat (utime+stime) read before and
// after each large transfer: the proxy process for proxied (and local-mode) transfers; for direct
// ones, sshd's per-connection processes (reaped children: cutime+cstime of the listener).
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, fmtRatio, type Row } from '../report.js';
import { bigFile, type CpuSample } from '../transfers.js';
import { GCM, interleavedTransfers, warmUp } from './throughput.js';

function perMiB(samples: CpuSample[], pick: (s: CpuSample) => number): number {
  const mib = samples.reduce((a, s) => a + s.mib, 0);
  return mib > 0 ? samples.reduce((a, s) => a + pick(s), 0) / mib : NaN;
}

export async function cpu(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const notes: string[] = [];
  if (ctx.shared.cpu.length === 0) {
    // Not measured by throughput/local in this run: one interleaved round of our own.
    const file = await bigFile(ctx, opts.sizeMiB);
    await warmUp(ctx, [stack.direct, stack.proxied], GCM);
    for (const d of ['download', 'upload'] as const) {
      await interleavedTransfers(ctx, stack.direct, stack.proxied, file, GCM, d, 0, { baseline: [], product: [] });
    }
    notes.push(`measured on one round of ${opts.sizeMiB} MiB ${GCM.label} transfers (throughput case not selected)`);
  } else {
    notes.push('measured on the throughput/local transfers of this run');
  }
  const all = ctx.shared.cpu;
  const rows: Row[] = [];
  const groups = new Map<string, CpuSample[]>();
  for (const s of all) {
    const k = `${s.cipher}|${s.direction}|${s.endpoint}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const details: Record<string, unknown> = {};
  for (const cipher of [...new Set(all.map((s) => s.cipher))]) {
    for (const direction of ['download', 'upload'] as const) {
      const direct = groups.get(`${cipher}|${direction}|direct`) ?? [];
      const base = perMiB(direct, (s) => s.serverCpuMs);
      for (const name of ['proxied', 'local'] as const) {
        const mine = groups.get(`${cipher}|${direction}|${name}`) ?? [];
        if (mine.length === 0) continue;
        const own = perMiB(mine, (s) => s.serverCpuMs);
        const upstream = perMiB(mine, (s) => s.sshdCpuMs);
        const label = name === 'proxied' ? 'proxy' : 'local';
        rows.push({
          measure: `${name === 'local' ? 'local: ' : ''}server CPU ms/MiB, ${direction}, ${cipher}`,
          baseline: `sshd ${fmt(base, 2)}`,
          product: name === 'proxied' ? `proxy ${fmt(own, 2)} (+ upstream sshd ${fmt(upstream, 2)})` : `${label} ${fmt(own, 2)}`,
          ratio: fmtRatio(own / base),
          target: '',
          verdict: '',
          values: { sshdDirect: base, product: own, upstreamSshd: name === 'proxied' ? upstream : null, transfers: mine.length },
        });
        details[`${cipher}-${direction}-${name}`] = { sshdDirect: base, product: own, upstreamSshd: upstream };
      }
    }
  }
  notes.push(`CPU includes each session's login; clock tick ${(1000 / ctx.clkTck).toFixed(0)} ms; ratio = product ÷ direct sshd (lower is better)`);
  return { status: 'ok', notes, rows, details };
}
