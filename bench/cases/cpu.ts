// Server-side CPU milliseconds per MiB moved, from /proc/<pid>/stat (utime+stime) read before and
// after each large transfer: the proxy process for proxied (and local-mode) transfers; for direct
// ones, sshd's per-connection processes (reaped children: cutime+cstime of the listener).
import os from 'node:os';
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, fmtRatio, verdict, type Row } from '../report.js';
import { bigFile, type CpuSample } from '../transfers.js';
import { GCM, interleavedTransfers, warmUp } from './throughput.js';

/** The proxy's own CPU ms per MiB with aes128-gcm on both legs (issue #9). */
const PROXY_CPU_TARGET = { download: 1.6, upload: 1.8 } as const;

function perMiB(samples: CpuSample[], pick: (s: CpuSample) => number): number {
  const mib = samples.reduce((a, s) => a + s.mib, 0);
  return mib > 0 ? samples.reduce((a, s) => a + pick(s), 0) / mib : NaN;
}

/**
 * On a machine whose cores are all busy (2 cores: sftp client + sshd direct; client + proxy + sshd
 * proxied), throughput is at most cores ÷ (CPU ms per MiB summed over every process). The ratio
 * of the two sums is then the best proxied/direct throughput ratio the machine allows for the
 * CPU each process was measured to spend, however the work is scheduled.
 */
function ceilingRow(cipher: string, direction: string, direct: CpuSample[], proxied: CpuSample[],
    sshdDirect: number, proxy: number, upstream: number): Row {
  const clientDirect = perMiB(direct, (s) => s.clientCpuMs);
  const clientProxied = perMiB(proxied, (s) => s.clientCpuMs);
  const directSum = clientDirect + sshdDirect;
  const proxiedSum = clientProxied + proxy + upstream;
  const cores = os.cpus().length;
  return {
    measure: `all processes' CPU ms/MiB, ${direction}, ${cipher}; ${cores}-core ceiling ratio`,
    baseline: `client ${fmt(clientDirect, 2)} + sshd ${fmt(sshdDirect, 2)} = ${fmt(directSum, 2)}`,
    product: `client ${fmt(clientProxied, 2)} + proxy ${fmt(proxy, 2)} + sshd ${fmt(upstream, 2)} = ${fmt(proxiedSum, 2)}`,
    ratio: fmtRatio(directSum / proxiedSum),
    target: '',
    verdict: '',
    values: { clientDirect, sshdDirect, directSum, clientProxied, proxy, upstream, proxiedSum, ceilingRatio: directSum / proxiedSum, cores },
  };
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
        const target = name === 'proxied' && cipher === GCM.label ? PROXY_CPU_TARGET[direction] : undefined;
        rows.push({
          measure: `${name === 'local' ? 'local: ' : ''}server CPU ms/MiB, ${direction}, ${cipher}`,
          baseline: `sshd ${fmt(base, 2)}`,
          product: name === 'proxied' ? `proxy ${fmt(own, 2)} (+ upstream sshd ${fmt(upstream, 2)})` : `${label} ${fmt(own, 2)}`,
          ratio: fmtRatio(own / base),
          target: target === undefined ? '' : `proxy ≤ ${fmt(target, 2)}`,
          verdict: target === undefined ? '' : verdict(own <= target),
          values: { sshdDirect: base, product: own, target: target ?? null, upstreamSshd: name === 'proxied' ? upstream : null, transfers: mine.length },
        });
        details[`${cipher}-${direction}-${name}`] = { sshdDirect: base, product: own, upstreamSshd: upstream };
        if (name === 'proxied') rows.push(ceilingRow(cipher, direction, direct, mine, base, own, upstream));
      }
    }
  }
  notes.push('ceiling ratio = (client + sshd) ÷ (client + proxy + upstream sshd), CPU ms/MiB: the best proxied/direct ' +
    'throughput ratio when every core is busy, for the CPU each process spent');
  notes.push(`CPU includes each session's login; clock tick ${(1000 / ctx.clkTck).toFixed(0)} ms; ratio = product ÷ direct sshd (lower is better)`);
  return { status: 'ok', notes, rows, details };
}
