// The peer operators compare us with: a front OpenSSH sshd whose sftp subsystem execs
// `ssh -s UPSTREAM sftp` (see openssh-relay.ts), aes128-gcm on both legs as on ours. Rounds
// interleave direct, relay and proxied transfers of the same file; the target is proxy ≥ 1.8 × relay.
import type { BenchContext, CaseOutcome } from '../context.js';
import { startOpensshRelay } from '../openssh-relay.js';
import { fmt, fmtRatio, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { bigFile, transferOnce, type CpuSample } from '../transfers.js';
import { GCM, negotiated, ratioRow, warmUp } from './throughput.js';

const TARGET = 1.8;

function cpuPerMiB(samples: CpuSample[], pick: (s: CpuSample) => number): number {
  const mib = samples.reduce((a, s) => a + s.mib, 0);
  return samples.reduce((a, s) => a + pick(s), 0) / mib;
}

export async function relay(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const file = await bigFile(ctx, opts.sizeMiB);
  const peer = await startOpensshRelay(stack, 'aes128-gcm@openssh.com');
  try {
    const neg = await negotiated(ctx, peer.endpoint, GCM);
    const endpoints: Endpoint[] = [stack.direct, peer.endpoint, stack.proxied];
    await warmUp(ctx, endpoints, GCM);
    const mibps: Record<string, Record<string, number[]>> = { download: {}, upload: {} };
    const cpu: Record<string, Record<string, CpuSample[]>> = { download: {}, upload: {} };
    for (let round = 0; round < opts.rounds; round++) {
      for (const d of ['download', 'upload'] as const) {
        for (const ep of endpoints) {
          // Not recorded for the cpu case: that one compares the proxy with direct sshd only.
          const r = await transferOnce(ctx, ep, d, file, GCM, `${ep.name}-relaycase-${d}-${round}`, false);
          (mibps[d]![ep.name] ??= []).push(r.mibPerSec);
          if (r.cpu) (cpu[d]![ep.name] ??= []).push(r.cpu);
          ctx.log(`  round ${round + 1} ${GCM.label} ${d} ${ep.name}: ${fmt(r.mibPerSec)} MiB/s`);
        }
      }
    }
    const rows: Row[] = [];
    for (const d of ['download', 'upload'] as const) {
      const s = mibps[d]!;
      rows.push(ratioRow(`${d} ${opts.sizeMiB} MiB, MiB/s, ${GCM.label}: proxy vs OpenSSH relay`, 'relay', 'proxied',
        { baseline: s['relay'] ?? [], product: s['proxied'] ?? [] }, TARGET));
      rows.push(ratioRow(`${d} ${opts.sizeMiB} MiB, MiB/s, ${GCM.label}: OpenSSH relay vs direct`, 'direct', 'relay',
        { baseline: s['direct'] ?? [], product: s['relay'] ?? [] }));
      const relayCpu = cpu[d]!['relay'] ?? [];
      const proxyCpu = cpu[d]!['proxied'] ?? [];
      const relayMs = relayCpu.length ? cpuPerMiB(relayCpu, (x) => x.serverCpuMs) : NaN;
      const proxyMs = proxyCpu.length ? cpuPerMiB(proxyCpu, (x) => x.serverCpuMs) : NaN;
      rows.push({
        measure: `middle CPU ms/MiB, ${d}, ${GCM.label} (lower is better)`,
        baseline: `relay (front sshd + ssh) ${fmt(relayMs, 2)}`,
        product: `proxy ${fmt(proxyMs, 2)}`,
        ratio: fmtRatio(proxyMs / relayMs),
        target: '',
        verdict: '',
        values: { relay: relayMs, proxy: proxyMs, ratio: proxyMs / relayMs },
      });
    }
    return {
      status: 'ok',
      notes: [
        `relay = front sshd with "Subsystem sftp <script>", the script: ${peer.command}`,
        `client→relay negotiated ${neg}; rounds interleave ${endpoints.map((e) => e.name).join(', ')}; ratio = median of per-round ratios`,
        'middle CPU = the front sshd\'s session processes and the relay\'s ssh (reaped children of its listener), or the proxy process; both include the logins of the two legs',
      ],
      rows,
      details: { mibps, command: peer.command },
    };
  } finally {
    await peer.stop();
  }
}
