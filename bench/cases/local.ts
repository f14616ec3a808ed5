// Local mode (the product's own SFTP server, --mode local --store file:PATH) vs OpenSSH's
// internal-sftp serving the same folder, same file, same cipher (aes128-gcm), interleaved.
import type { BenchContext, CaseOutcome } from '../context.js';
import type { Row } from '../report.js';
import { bigFile } from '../transfers.js';
import { GCM, interleavedTransfers, negotiated, ratioRow, warmUp, type PairSeries } from './throughput.js';

/** Local mode ÷ OpenSSH internal-sftp (issue #9). */
const LOCAL_TARGET = { download: 1.2, upload: 1.3 } as const;

export async function local(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const avail = await stack.local();
  if (!avail.ok) return { status: 'not available', notes: [avail.reason], rows: [], details: { reason: avail.reason } };
  const ep = avail.endpoint;
  const file = await bigFile(ctx, opts.sizeMiB);
  const neg = await negotiated(ctx, ep, GCM);
  await warmUp(ctx, [stack.direct, ep], GCM);
  const series: Record<string, PairSeries> = {};
  for (let round = 0; round < opts.rounds; round++) {
    for (const d of ['download', 'upload'] as const) {
      const s = (series[d] ??= { baseline: [], product: [] });
      await interleavedTransfers(ctx, stack.direct, ep, file, GCM, d, round, s);
    }
  }
  const rows: Row[] = (['download', 'upload'] as const).map((d) =>
    ratioRow(`${d} ${opts.sizeMiB} MiB, MiB/s, ${GCM.label}`, 'OpenSSH', 'local', series[d]!, LOCAL_TARGET[d]));
  return {
    status: 'ok',
    notes: [`baseline: sshd internal-sftp on the same folder; client→local-mode negotiated ${neg}`],
    rows,
    details: { series },
  };
}
