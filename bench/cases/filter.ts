// The price of reading SFTP (issue #10): proxied throughput with the SFTP filter on (the default:
// every packet's head read for permissions and audit, payloads passed as the same bytes) vs off
// (--sftp-filter off: bytes piped blind). Two fresh proxies on the same upstream sshd, aes128-gcm,
// rounds interleaved (the order alternating each round), twice --rounds rounds: a 3 % target
// needs more samples than the others. Ratio = median over rounds of (on MiB/s ÷ off MiB/s).
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { median } from '../stats.js';
import { bigFile, transferOnce } from '../transfers.js';
import { GCM, ratioRow, warmUp, type PairSeries } from './throughput.js';

const TARGET = 0.97;

export async function filter(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const on = await stack.startExtraProxy({ env: { SFTPPROXY_SFTP_FILTER: 'on' } });
  const off = await stack.startExtraProxy({ env: { SFTPPROXY_SFTP_FILTER: 'off' } });
  try {
    const file = await bigFile(ctx, opts.sizeMiB);
    await warmUp(ctx, [on.endpoint, off.endpoint], GCM);
    const rounds = opts.rounds * 2;
    const series: Record<string, PairSeries> = {};
    const cpuPerMiB: Record<string, { on: number[]; off: number[] }> = {};
    for (let round = 0; round < rounds; round++) {
      for (const d of ['download', 'upload'] as const) {
        const s = (series[d] ??= { baseline: [], product: [] });
        const c = (cpuPerMiB[d] ??= { on: [], off: [] });
        const order: Array<[Endpoint, 'on' | 'off']> = round % 2 === 0 ? [[off.endpoint, 'off'], [on.endpoint, 'on']] : [[on.endpoint, 'on'], [off.endpoint, 'off']];
        for (const [ep, which] of order) {
          // Not recorded for the cpu case: these are not the stack's proxy.
          const r = await transferOnce(ctx, ep, d, file, GCM, `filter-${which}-${d}-${round}`, false);
          (which === 'on' ? s.product : s.baseline).push(r.mibPerSec);
          c[which].push(r.cpu ? r.cpu.serverCpuMs / (file.bytes / (1024 * 1024)) : NaN);
          ctx.log(`  round ${round + 1} ${d} filter ${which}: ${fmt(r.mibPerSec)} MiB/s`);
        }
      }
    }
    const rows: Row[] = [];
    for (const d of ['download', 'upload'] as const) {
      rows.push(ratioRow(`${d} ${opts.sizeMiB} MiB, MiB/s, ${GCM.label}, proxied`, 'filter off', 'filter on', series[d]!, TARGET));
      const c = cpuPerMiB[d]!;
      const cOn = median(c.on);
      const cOff = median(c.off);
      rows.push({
        measure: `${d}: proxy CPU ms/MiB`,
        baseline: `filter off ${fmt(cOff, 2)}`,
        product: `filter on ${fmt(cOn, 2)}`,
        ratio: Number.isFinite(cOn / cOff) ? (cOn / cOff).toFixed(2) : '—',
        target: '',
        verdict: '',
        values: { off: cOff, on: cOn, offSamples: c.off.join(','), onSamples: c.on.join(',') },
      });
    }
    return {
      status: 'ok',
      notes: [`two fresh proxies (SFTPPROXY_SFTP_FILTER on / off) on the same sshd; ${rounds} interleaved rounds of ${opts.sizeMiB} MiB per direction, the order alternating; target on ÷ off ≥ ${TARGET}`],
      rows,
      details: { series, cpuPerMiB },
    };
  } finally {
    await stack.stopProxy(on.proxy);
    await stack.stopProxy(off.proxy);
  }
}
