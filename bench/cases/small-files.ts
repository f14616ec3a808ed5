// Many small files in one session: `put -r` then `get -r` of a directory of N × K KiB files with the
// OpenSSH sftp client; proxied vs direct, and local mode vs OpenSSH when local mode works.
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { makeSmallTree, smallTreeRoundTrip } from '../small-tree.js';
import { GCM, ratioRow, type PairSeries } from './throughput.js';

interface Series {
  put: PairSeries;
  get: PairSeries;
}

export async function smallFiles(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const notes: string[] = [];
  const tree = await makeSmallTree(ctx, 'small-src', opts.files, opts.fileKiB);

  const avail = await stack.local();
  const localEp = avail.ok ? avail.endpoint : undefined;
  if (!avail.ok) notes.push(`local mode not available: ${avail.reason}`);
  const endpoints: Endpoint[] = [stack.direct, stack.proxied, ...(localEp ? [localEp] : [])];

  // files/s per endpoint and round
  const samples = new Map<string, { put: number[]; get: number[] }>();
  for (const ep of endpoints) samples.set(ep.name, { put: [], get: [] });

  const once = async (ep: Endpoint, tag: string, record: boolean): Promise<void> => {
    const r = await smallTreeRoundTrip(ctx, ep, tree, tag);
    if (r && record) {
      const s = samples.get(ep.name)!;
      s.put.push(r.put);
      s.get.push(r.get);
      ctx.log(`  ${tag} ${ep.name}: put ${fmt(r.put, 0)} files/s, get ${fmt(r.get, 0)} files/s`);
    }
  };

  for (const ep of endpoints) await once(ep, `warmup-${ep.name}`, false);
  for (let round = 0; round < opts.rounds; round++) {
    for (const ep of endpoints) await once(ep, `round${round + 1}`, true);
  }
  await tree.remove();

  const direct = samples.get('direct')!;
  const pair = (other: { put: number[]; get: number[] }): Series => ({
    put: { baseline: direct.put, product: other.put },
    get: { baseline: direct.get, product: other.get },
  });
  const label = `${opts.files} × ${opts.fileKiB} KiB`;
  const rows: Row[] = [];
  const prox = pair(samples.get('proxied')!);
  rows.push(ratioRow(`put -r ${label}, files/s`, 'direct', 'proxied', prox.put));
  rows.push(ratioRow(`get -r ${label}, files/s`, 'direct', 'proxied', prox.get));
  if (localEp) {
    const loc = pair(samples.get('local')!);
    rows.push(ratioRow(`local: put -r ${label}, files/s`, 'OpenSSH', 'local', loc.put, 1.0));
    rows.push(ratioRow(`local: get -r ${label}, files/s`, 'OpenSSH', 'local', loc.get, 1.0));
  } else {
    rows.push({ measure: `local: put/get -r ${label}`, baseline: '', product: 'not available', ratio: '', target: '≥ 1.00', verdict: '', values: {} });
  }
  notes.push(`one sftp session per round does put -r then get -r (${GCM.label}); rounds interleave ${endpoints.map((e) => e.name).join(', ')}`);
  return { status: 'ok', notes, rows, details: { samples: Object.fromEntries(samples) } };
}
