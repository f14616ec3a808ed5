// Where users feel the proxy: a delayed link on the client's leg (users sit far from the proxy,
// the upstream near it). A userspace delay relay (no netem in these containers) sits in front of
// sshd, of the proxy and of local mode alike, so only what is behind it differs. First the relay
// itself at 0 ms against direct sshd, to show it is not the bottleneck; then, per round trip, a
// large download and upload and a put -r / get -r of many small files, interleaved.
import type { BenchContext, CaseOutcome } from '../context.js';
import { startDelayRelays } from '../delay-relay-process.js';
import { fmt, fmtRatio, verdict, type Row } from '../report.js';
import { makeSmallTree, smallTreeRoundTrip } from '../small-tree.js';
import type { Endpoint } from '../stack.js';
import { median } from '../stats.js';
import { bigFile, transferOnce, type BigFile, type Direction } from '../transfers.js';
import { GCM, ratioRow } from './throughput.js';

const TARGET = 0.97;
/** The relay must move this many times the fastest delayed transfer, or it shapes the figures. */
const HEADROOM = 1.5;

type Series = Record<string, number[]>;

async function bigRound(ctx: BenchContext, eps: Endpoint[], file: BigFile, d: Direction, tag: string, into: Series): Promise<void> {
  for (const ep of eps) {
    const r = await transferOnce(ctx, ep, d, file, GCM, `${ep.name}-${tag}-${d}`, false);
    (into[ep.name] ??= []).push(r.mibPerSec);
    ctx.log(`  ${tag} ${d} ${ep.name}: ${fmt(r.mibPerSec)} MiB/s`);
  }
}

export async function latency(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const notes: string[] = [];
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const file = await bigFile(ctx, opts.latencyMiB);
  const avail = await stack.local();
  if (!avail.ok) notes.push(`local mode not available: ${avail.reason}`);
  const targets: Endpoint[] = [stack.direct, stack.proxied, ...(avail.ok ? [avail.endpoint] : [])];

  // 1. The relay with no delay, in front of sshd, against sshd alone.
  const zero = await startDelayRelays(0, [stack.direct.port]);
  let relayMax = NaN;
  try {
    const paths = [{ label: 'direct', ep: stack.direct }, { label: 'relay', ep: await stack.through(stack.direct, zero.ports[0]!) }];
    const check: Series = {};
    const ticks0 = zero.cpuTicks();
    let moved = 0;
    for (let round = 0; round < opts.rounds; round++) {
      for (const d of ['download', 'upload'] as const) {
        for (const { label, ep } of paths) {
          const r = await transferOnce(ctx, ep, d, file, GCM, `relaycheck-${label}-${d}-${round}`, false);
          (check[`${d}-${label}`] ??= []).push(r.mibPerSec);
          if (label === 'relay') moved += file.bytes / (1024 * 1024);
          ctx.log(`  0 ms relay check ${d} ${label}: ${fmt(r.mibPerSec)} MiB/s`);
        }
      }
    }
    const relayCpuMs = ((zero.cpuTicks() - ticks0) * 1000) / ctx.clkTck / moved;
    for (const d of ['download', 'upload'] as const) {
      rows.push(ratioRow(`delay relay at 0 ms: ${d} ${opts.latencyMiB} MiB, MiB/s, through it vs direct`, 'direct', 'relay',
        { baseline: check[`${d}-direct`]!, product: check[`${d}-relay`]! }));
    }
    relayMax = Math.min(median(check['download-relay']!), median(check['upload-relay']!));
    notes.push(`delay relay: its own process, ${fmt(relayCpuMs, 2)} CPU ms per MiB relayed at 0 ms; on 2 busy cores it competes with client and server, so "through it vs direct" at 0 ms is a lower bound on its capacity`);
    details['relayCheck'] = { ...check, relayCpuMsPerMiB: relayCpuMs };
  } finally {
    await zero.stop();
  }

  // 2. Each round trip: large transfers and small files through the relay, interleaved.
  const tree = await makeSmallTree(ctx, 'latency-src', opts.latencyFiles, opts.fileKiB);
  let fastest = 0;
  try {
    for (const rtt of opts.rttMs) {
      const relays = await startDelayRelays(rtt, targets.map((t) => t.port));
      try {
        const eps = await Promise.all(targets.map((t, i) => stack.through(t, relays.ports[i]!)));
        const big: Record<Direction, Series> = { download: {}, upload: {} };
        const put: Series = {};
        const get: Series = {};
        for (let round = 0; round < opts.rounds; round++) {
          for (const d of ['download', 'upload'] as const) await bigRound(ctx, eps, file, d, `${rtt}ms-r${round + 1}`, big[d]);
        }
        // Small files once per path: at 20 ms a file costs 3-5 round trips, so 200 files take
        // 15-25 s per path and step, and a latency-bound figure moves little between rounds.
        for (const ep of eps) {
          const r = await smallTreeRoundTrip(ctx, ep, tree, `${rtt}ms-${ep.name}`);
          (put[ep.name] ??= []).push(r?.put ?? NaN);
          (get[ep.name] ??= []).push(r?.get ?? NaN);
          if (r) ctx.log(`  ${rtt}ms small files ${ep.name}: put ${fmt(r.put, 0)} files/s, get ${fmt(r.get, 0)} files/s`);
        }
        for (const d of ['download', 'upload'] as const) {
          for (const v of Object.values(big[d])) fastest = Math.max(fastest, median(v));
        }
        const label = `${opts.latencyFiles} × ${opts.fileKiB} KiB`;
        const measures: [string, Series, string][] = [
          [`${rtt} ms RTT: download ${opts.latencyMiB} MiB, MiB/s`, big.download, 'MiB/s'],
          [`${rtt} ms RTT: upload ${opts.latencyMiB} MiB, MiB/s`, big.upload, 'MiB/s'],
          [`${rtt} ms RTT: put -r ${label}, files/s`, put, 'files/s'],
          [`${rtt} ms RTT: get -r ${label}, files/s`, get, 'files/s'],
        ];
        for (const [measure, s] of measures) {
          rows.push(ratioRow(measure, 'direct', 'proxied', { baseline: s['direct']!, product: s['proxied']! }, TARGET));
          if (s['local']) rows.push(ratioRow(`local: ${measure}`, 'OpenSSH', 'local', { baseline: s['direct']!, product: s['local'] }, TARGET));
        }
        details[`rtt${rtt}`] = { big, put, get };
      } finally {
        await relays.stop();
      }
    }
  } finally {
    await tree.remove();
  }
  const headroom = relayMax / fastest;
  rows.push({
    measure: 'delay relay headroom: its 0 ms MiB/s ÷ the fastest delayed transfer',
    baseline: `fastest delayed ${fmt(fastest)}`,
    product: `relay at 0 ms ${fmt(relayMax)}`,
    ratio: fmtRatio(headroom),
    target: `≥ ${HEADROOM.toFixed(2)}`,
    verdict: verdict(headroom >= HEADROOM),
    values: { fastest, relayMax, headroom },
  });
  notes.push(`each direction held for RTT/2 by the relay (its own process, same code for every path), placed on the client's leg only; ${GCM.label}; large files: ${opts.rounds} round(s) interleaving direct, proxied${avail.ok ? ', local' : ''}; small files: one put -r + get -r session per path`);
  return { status: 'ok', notes, rows, details };
}
