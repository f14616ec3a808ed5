// Large-file download and upload with the OpenSSH sftp client: proxied vs direct to the same sshd,
// (a) both forced to aes128-gcm, (b) client defaults. Rounds interleave direct, proxied, ...
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, fmtRatio, verdict, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { median, pairedRatios } from '../stats.js';
import { bigFile, transferOnce, type BigFile, type Direction } from '../transfers.js';

export interface CipherChoice {
  key: string;
  label: string;
  args: string[];
}

export const GCM: CipherChoice = { key: 'gcm', label: 'aes128-gcm', args: ['-c', 'aes128-gcm@openssh.com'] };
export const DEFAULTS: CipherChoice = { key: 'defaults', label: 'client defaults', args: [] };

export interface PairSeries {
  baseline: number[];
  product: number[];
}

/** Interleaved rounds of baseline and product transfers; returns MiB/s per round (NaN on failure). */
export async function interleavedTransfers(ctx: BenchContext, baseline: Endpoint, product: Endpoint, file: BigFile,
    cipher: CipherChoice, direction: Direction, round: number, series: PairSeries): Promise<void> {
  for (const ep of [baseline, product]) {
    const r = await transferOnce(ctx, ep, direction, file, cipher, `${ep.name}-${cipher.key}-${direction}-${round}`);
    (ep === baseline ? series.baseline : series.product).push(r.mibPerSec);
    ctx.log(`  round ${round + 1} ${cipher.label} ${direction} ${ep.name}: ${fmt(r.mibPerSec)} MiB/s`);
  }
}

/** A short transfer each way through each endpoint, unmeasured (JIT, caches, first-use pinning). */
export async function warmUp(ctx: BenchContext, endpoints: Endpoint[], cipher: CipherChoice): Promise<void> {
  const small = await bigFile(ctx, Math.min(8, ctx.opts.sizeMiB));
  for (const ep of endpoints) {
    for (const d of ['download', 'upload'] as const) await transferOnce(ctx, ep, d, small, cipher, `warmup-${ep.name}-${d}`, false);
  }
}

export function ratioRow(measure: string, baseName: string, prodName: string, s: PairSeries, target?: number): Row {
  const b = median(s.baseline);
  const p = median(s.product);
  const ratio = median(pairedRatios(s.baseline, s.product));
  return {
    measure,
    baseline: `${baseName} ${fmt(b)}`,
    product: `${prodName} ${fmt(p)}`,
    ratio: fmtRatio(ratio),
    target: target === undefined ? '' : `≥ ${target.toFixed(2)}`,
    verdict: target === undefined ? '' : verdict(ratio >= target),
    values: { baseline: b, product: p, ratio, target: target ?? null, baselineSamples: s.baseline.join(','), productSamples: s.product.join(',') },
  };
}

/** What `sftp -v` says was negotiated (kex and server→client cipher) for an endpoint and cipher choice. */
export async function negotiated(ctx: BenchContext, ep: Endpoint, cipher: CipherChoice): Promise<string> {
  const res = await ctx.stack.sftp(ep, ['pwd'], { extraArgs: ['-v', ...cipher.args], timeoutMs: 30_000 });
  const kex = /debug1: kex: algorithm: (\S+)/.exec(res.stderr)?.[1] ?? '?';
  const c = /debug1: kex: server->client cipher: (\S+)/.exec(res.stderr)?.[1] ?? '?';
  return `${c} (kex ${kex})`;
}

export async function throughput(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const file = await bigFile(ctx, opts.sizeMiB);
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  for (const c of [GCM, DEFAULTS]) {
    const d = await negotiated(ctx, stack.direct, c);
    const p = await negotiated(ctx, stack.proxied, c);
    details[`negotiated-${c.key}`] = { direct: d, proxied: p };
    notes.push(`${c.label}: direct negotiated ${d}; client→proxy negotiated ${p}`);
  }
  await warmUp(ctx, [stack.direct, stack.proxied], GCM);

  const series: Record<string, PairSeries> = {};
  for (let round = 0; round < opts.rounds; round++) {
    for (const c of [GCM, DEFAULTS]) {
      for (const d of ['download', 'upload'] as const) {
        const s = (series[`${c.key}-${d}`] ??= { baseline: [], product: [] });
        await interleavedTransfers(ctx, stack.direct, stack.proxied, file, c, d, round, s);
      }
    }
  }
  const rows: Row[] = [];
  for (const c of [GCM, DEFAULTS]) {
    for (const d of ['download', 'upload'] as const) {
      rows.push(ratioRow(`${d} ${opts.sizeMiB} MiB, MiB/s, ${c.label}`, 'direct', 'proxied', series[`${c.key}-${d}`]!, c === GCM ? 0.9 : 1.0));
    }
  }
  details['series'] = series;
  notes.push(`ratio = median over rounds of (proxied MiB/s ÷ direct MiB/s) in the same round; ${opts.rounds} round(s), ${opts.sizeMiB} MiB, files on ${stack.work.startsWith('/dev/shm') ? 'tmpfs (/dev/shm)' : 'disk'}`);
  return { status: 'ok', notes, rows, details };
}
