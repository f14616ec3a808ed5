// Timed, verified transfers with the OpenSSH sftp client. Timing comes from marker lines the batch
// itself prints (`!echo @T $(date +%s%N)` around each step), so login and exit are not counted.
import { copyFile, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { sha256File, writeRandomFile } from '../test/harness/index.js';
import type { BenchContext } from './context.js';
import { firstLines, processIdle, procCpuTicks, type Endpoint } from './stack.js';

const MARK = '!echo @T $(date +%s%N)';

export interface TimedBatch {
  ok: boolean;
  /** Milliseconds of each step (between its markers). */
  stepsMs: number[];
  /** The markers themselves: wall-clock nanoseconds (comparable across client processes). */
  marksNs: bigint[];
  error?: string;
}

/** Run `steps` (each a list of batch lines) in one sftp session and time each step. */
export async function timedSftp(ctx: BenchContext, ep: Endpoint, steps: string[][], extraArgs: string[], timeoutMs: number): Promise<TimedBatch> {
  const batch = [MARK];
  for (const s of steps) batch.push(...s, MARK);
  const res = await ctx.stack.sftp(ep, batch, { extraArgs, timeoutMs });
  const marks = res.stdout.split('\n').map((l) => /^@T (\d+)\s*$/.exec(l)?.[1]).filter((m): m is string => m !== undefined).map(BigInt);
  if (res.code !== 0 || marks.length !== steps.length + 1) {
    return { ok: false, stepsMs: [], marksNs: marks, error: `sftp exit ${res.code}${res.timedOut ? ' (timed out)' : ''}, ${marks.length}/${steps.length + 1} markers: ${firstLines(res.stderr || res.stdout)}` };
  }
  const stepsMs: number[] = [];
  for (let i = 0; i < steps.length; i++) stepsMs.push(Number(marks[i + 1]! - marks[i]!) / 1e6);
  return { ok: true, stepsMs, marksNs: marks };
}

export interface BigFile {
  /** Name (relative to the server's start directory) of the download source. */
  serverName: string;
  /** Absolute path of the upload source. */
  clientPath: string;
  sha256: string;
  bytes: number;
}

const bigFiles = new Map<number, Promise<BigFile>>();

/** A random file of `mib` MiB, present both in the server directory and in the client directory. */
export function bigFile(ctx: BenchContext, mib: number): Promise<BigFile> {
  let p = bigFiles.get(mib);
  if (!p) {
    p = (async () => {
      const bytes = Math.round(mib * 1024 * 1024);
      const serverName = `big-${mib}m.bin`;
      const clientPath = join(ctx.stack.clientDir, serverName);
      const sha256 = await writeRandomFile(clientPath, bytes);
      await copyFile(clientPath, join(ctx.stack.serverDir, serverName));
      return { serverName, clientPath, sha256, bytes };
    })();
    bigFiles.set(mib, p);
  }
  return p;
}

export type Direction = 'download' | 'upload';

export interface CpuSample {
  endpoint: Endpoint['name'];
  cipher: string;
  direction: Direction;
  mib: number;
  /** CPU ms of the measured serving process (proxy or local-mode proxy); for `direct`, sshd's. */
  serverCpuMs: number;
  /** CPU ms of sshd's per-connection processes (the upstream leg when proxied; 0 for local). */
  sshdCpuMs: number;
  /** CPU ms of the OpenSSH sftp client and its ssh (reaped children of this process). */
  clientCpuMs: number;
}

export interface TransferResult {
  ok: boolean;
  ms: number;
  mibPerSec: number;
  cpu?: CpuSample;
}

interface VerifiedRun {
  ok: boolean;
  ms: number;
  startNs: bigint;
  endNs: bigint;
}

interface PlannedTransfer {
  step: string[];
  /** The file the transfer writes (checked, then removed). */
  target: string;
  what: string;
  timeoutMs: number;
}

function plan(ctx: BenchContext, ep: Endpoint, direction: Direction, file: BigFile, cipher: { label: string }, tag: string): PlannedTransfer {
  const { stack } = ctx;
  const mib = file.bytes / (1024 * 1024);
  const target = direction === 'download' ? join(stack.clientDir, `got-${tag}.bin`) : join(stack.serverDir, `up-${tag}.bin`);
  return {
    step: direction === 'download' ? [`get ${file.serverName} ${target}`] : [`put ${file.clientPath} up-${tag}.bin`],
    target,
    what: `${direction} ${mib} MiB via ${ep.name} (${cipher.label}, ${tag})`,
    timeoutMs: Math.max(120_000, mib * 1000), // ≥ 1 MiB/s or it is a failure
  };
}

/** Check a finished transfer's sha256 (failures go to ctx.failIntegrity) and remove its output. */
async function verify(ctx: BenchContext, p: PlannedTransfer, run: TimedBatch, file: BigFile): Promise<VerifiedRun> {
  const failed: VerifiedRun = { ok: false, ms: NaN, startNs: 0n, endNs: 0n };
  try {
    if (!run.ok) {
      ctx.failIntegrity(`${p.what}: transfer failed: ${run.error}`);
      return failed;
    }
    const got = await sha256File(p.target).catch((e: Error) => `unreadable (${e.message})`);
    if (got !== file.sha256) {
      ctx.failIntegrity(`${p.what}: sha256 ${got.slice(0, 16)}… ≠ expected ${file.sha256.slice(0, 16)}…`);
      return failed;
    }
  } finally {
    await rm(p.target, { force: true });
  }
  return { ok: true, ms: run.stepsMs[0]!, startNs: run.marksNs[0]!, endNs: run.marksNs[1]! };
}

/** Run one transfer of the big file and check its sha256. */
async function verifiedTransfer(ctx: BenchContext, ep: Endpoint, direction: Direction, file: BigFile,
    cipher: { label: string; args: string[] }, tag: string): Promise<VerifiedRun> {
  const p = plan(ctx, ep, direction, file, cipher, tag);
  const run = await timedSftp(ctx, ep, [p.step], cipher.args, p.timeoutMs);
  return verify(ctx, p, run, file);
}

/**
 * One timed transfer of the big file (download: server → client dir; upload: client dir → server),
 * then its sha256 check, with the server-side CPU it cost. A failed or corrupted transfer is
 * reported to ctx.failIntegrity.
 */
export async function transferOnce(ctx: BenchContext, ep: Endpoint, direction: Direction, file: BigFile,
    cipher: { label: string; args: string[] }, tag: string, record = true): Promise<TransferResult> {
  const { stack } = ctx;
  const mib = file.bytes / (1024 * 1024);
  // The relay's work is done by the front sshd's session processes: counted once they are reaped.
  const serverTicks = (): number => (ep.name === 'direct' ? 0 : ep.name === 'relay' ? procCpuTicks(ep.pid).children : procCpuTicks(ep.pid).self);
  const idle = async (): Promise<boolean> => (await stack.sshdIdle()) && (ep.name !== 'relay' || (await processIdle(ep.pid)));
  await idle();
  const sshdBefore = procCpuTicks(stack.sshd.pid).children;
  const serverBefore = serverTicks();
  const clientBefore = procCpuTicks(process.pid).children;
  const run = await verifiedTransfer(ctx, ep, direction, file, cipher, tag);
  const clientAfter = procCpuTicks(process.pid).children;
  if (!(await idle())) ctx.log(`warning: sshd session processes still running after ${direction} via ${ep.name} (${tag})`);
  const serverAfter = serverTicks();
  const sshdAfter = procCpuTicks(stack.sshd.pid).children;
  if (!run.ok) return { ok: false, ms: NaN, mibPerSec: NaN };
  const tickMs = 1000 / ctx.clkTck;
  const sshdCpuMs = (sshdAfter - sshdBefore) * tickMs;
  const cpu: CpuSample = {
    endpoint: ep.name,
    cipher: cipher.label,
    direction,
    mib,
    serverCpuMs: ep.name === 'direct' ? sshdCpuMs : (serverAfter - serverBefore) * tickMs,
    sshdCpuMs: ep.name === 'local' ? 0 : sshdCpuMs,
    clientCpuMs: (clientAfter - clientBefore) * tickMs,
  };
  if (record) ctx.shared.cpu.push(cpu);
  return { ok: true, ms: run.ms, mibPerSec: mib / (run.ms / 1000), cpu };
}

/**
 * `parallel` simultaneous transfers of the big file through one endpoint, each its own sftp
 * process; aggregate MiB/s over the span from the first start to the last end (NaN on failure).
 */
export async function parallelTransfers(ctx: BenchContext, ep: Endpoint, direction: Direction, file: BigFile,
    cipher: { label: string; args: string[] }, parallel: number, tag: string): Promise<number> {
  await ctx.stack.sshdIdle();
  const plans = Array.from({ length: parallel }, (_, i) => plan(ctx, ep, direction, file, cipher, `${tag}-p${i}`));
  // All transfers first, then the checks: hashing must not overlap a transfer still running.
  const timed = await Promise.all(plans.map((p) => timedSftp(ctx, ep, [p.step], cipher.args, p.timeoutMs)));
  const runs: VerifiedRun[] = [];
  for (let i = 0; i < parallel; i++) runs.push(await verify(ctx, plans[i]!, timed[i]!, file));
  if (runs.some((r) => !r.ok)) return NaN;
  const start = runs.reduce((a, r) => (r.startNs < a ? r.startNs : a), runs[0]!.startNs);
  const end = runs.reduce((a, r) => (r.endNs > a ? r.endNs : a), runs[0]!.endNs);
  return (parallel * file.bytes) / (1024 * 1024) / (Number(end - start) / 1e9);
}

/**
 * Digest of a directory of regular files: sha256 over sorted (name, sha256(content)) pairs, so two
 * trees with the same names and bytes give the same digest.
 */
export async function treeDigest(dir: string): Promise<{ digest: string; files: number }> {
  const names = (await readdir(dir)).sort();
  const h = createHash('sha256');
  for (const n of names) {
    h.update(n).update('\0').update(createHash('sha256').update(await readFile(join(dir, n))).digest()).update('\n');
  }
  return { digest: h.digest('hex'), files: names.length };
}
