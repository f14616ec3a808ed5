// Many small files in one session: `put -r` then `get -r` of a directory of N × K KiB files with the
// OpenSSH sftp client; proxied vs direct, and local mode vs OpenSSH when local mode works.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeRandomFile } from '../../test/harness/index.js';
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { timedSftp, treeDigest } from '../transfers.js';
import { GCM, ratioRow, type PairSeries } from './throughput.js';

interface Series {
  put: PairSeries;
  get: PairSeries;
}

export async function smallFiles(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const notes: string[] = [];
  const srcName = 'small-src';
  const src = join(stack.clientDir, srcName);
  await rm(src, { recursive: true, force: true });
  await mkdir(src);
  const width = String(opts.files - 1).length;
  for (let i = 0; i < opts.files; i++) await writeRandomFile(join(src, `f${String(i).padStart(width, '0')}.bin`), opts.fileKiB * 1024);
  const expected = await treeDigest(src);

  const avail = await stack.local();
  const localEp = avail.ok ? avail.endpoint : undefined;
  if (!avail.ok) notes.push(`local mode not available: ${avail.reason}`);
  const endpoints: Endpoint[] = [stack.direct, stack.proxied, ...(localEp ? [localEp] : [])];

  // files/s per endpoint and round
  const samples = new Map<string, { put: number[]; get: number[] }>();
  for (const ep of endpoints) samples.set(ep.name, { put: [], get: [] });

  const once = async (ep: Endpoint, tag: string, record: boolean): Promise<void> => {
    const remote = `sf-${tag}`;
    const back = join(stack.clientDir, `sf-got-${tag}`);
    const what = `small files (${opts.files} × ${opts.fileKiB} KiB) via ${ep.name} (${tag})`;
    try {
      const timeoutMs = Math.max(120_000, opts.files * 200);
      const run = await timedSftp(ctx, ep, [[`put -r ${srcName} ${remote}`], [`get -r ${remote} ${back}`]], GCM.args, timeoutMs);
      if (!run.ok) {
        ctx.failIntegrity(`${what}: transfer failed: ${run.error}`);
        return;
      }
      const up = await treeDigest(join(stack.serverDir, remote)).catch(() => ({ digest: 'missing', files: 0 }));
      const down = await treeDigest(back).catch(() => ({ digest: 'missing', files: 0 }));
      if (up.digest !== expected.digest) ctx.failIntegrity(`${what}: uploaded tree differs (${up.files}/${expected.files} files)`);
      if (down.digest !== expected.digest) ctx.failIntegrity(`${what}: downloaded tree differs (${down.files}/${expected.files} files)`);
      if (up.digest !== expected.digest || down.digest !== expected.digest) return;
      const [putMs, getMs] = run.stepsMs as [number, number];
      if (record) {
        const s = samples.get(ep.name)!;
        s.put.push(opts.files / (putMs / 1000));
        s.get.push(opts.files / (getMs / 1000));
        ctx.log(`  ${tag} ${ep.name}: put ${fmt(opts.files / (putMs / 1000), 0)} files/s, get ${fmt(opts.files / (getMs / 1000), 0)} files/s`);
      }
    } finally {
      await rm(join(stack.serverDir, remote), { recursive: true, force: true });
      await rm(back, { recursive: true, force: true });
    }
  };

  for (const ep of endpoints) await once(ep, `warmup-${ep.name}`, false);
  for (let round = 0; round < opts.rounds; round++) {
    for (const ep of endpoints) await once(ep, `round${round + 1}`, true);
  }
  await rm(src, { recursive: true, force: true });

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
