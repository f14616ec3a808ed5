// A directory of many small random files and one verified `put -r` + `get -r` of it in one sftp
// session (files/s of each step), shared by the small-files and latency cases.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeRandomFile } from '../test/harness/index.js';
import type { BenchContext } from './context.js';
import { GCM } from './cases/throughput.js';
import type { Endpoint } from './stack.js';
import { timedSftp, treeDigest } from './transfers.js';

export interface SmallTree {
  /** Directory name under the client directory. */
  name: string;
  files: number;
  fileKiB: number;
  digest: string;
  remove(): Promise<void>;
}

export async function makeSmallTree(ctx: BenchContext, name: string, files: number, fileKiB: number): Promise<SmallTree> {
  const src = join(ctx.stack.clientDir, name);
  await rm(src, { recursive: true, force: true });
  await mkdir(src);
  const width = String(files - 1).length;
  for (let i = 0; i < files; i++) await writeRandomFile(join(src, `f${String(i).padStart(width, '0')}.bin`), fileKiB * 1024);
  const { digest } = await treeDigest(src);
  return { name, files, fileKiB, digest, remove: () => rm(src, { recursive: true, force: true }) };
}

/**
 * `put -r` then `get -r` of the tree in one session, both copies checked against the source
 * (failures go to ctx.failIntegrity and give null); files/s of each step.
 */
export async function smallTreeRoundTrip(ctx: BenchContext, ep: Endpoint, tree: SmallTree, tag: string): Promise<{ put: number; get: number } | null> {
  const { stack } = ctx;
  const remote = `sf-${tag}`;
  const back = join(stack.clientDir, `sf-got-${tag}`);
  const what = `small files (${tree.files} × ${tree.fileKiB} KiB) via ${ep.name} (${tag})`;
  try {
    const timeoutMs = Math.max(120_000, tree.files * 200);
    const run = await timedSftp(ctx, ep, [[`put -r ${tree.name} ${remote}`], [`get -r ${remote} ${back}`]], GCM.args, timeoutMs);
    if (!run.ok) {
      ctx.failIntegrity(`${what}: transfer failed: ${run.error}`);
      return null;
    }
    const up = await treeDigest(join(stack.serverDir, remote)).catch(() => ({ digest: 'missing', files: 0 }));
    const down = await treeDigest(back).catch(() => ({ digest: 'missing', files: 0 }));
    if (up.digest !== tree.digest) ctx.failIntegrity(`${what}: uploaded tree differs (${up.files}/${tree.files} files)`);
    if (down.digest !== tree.digest) ctx.failIntegrity(`${what}: downloaded tree differs (${down.files}/${tree.files} files)`);
    if (up.digest !== tree.digest || down.digest !== tree.digest) return null;
    const [putMs, getMs] = run.stepsMs as [number, number];
    return { put: tree.files / (putMs / 1000), get: tree.files / (getMs / 1000) };
  } finally {
    await rm(join(stack.serverDir, remote), { recursive: true, force: true });
    await rm(back, { recursive: true, force: true });
  }
}
