// SSH_FXP_EXTENDED requests: the OpenSSH extensions we advertise, plus copy-data.
import { FX, FXP, STATVFS_FLAG } from '../protocol/constants.js';
import type { Handler, Route } from './context.js';
import { okReply } from '../protocol/replies.js';
import { PacketWriter } from '../protocol/packet-writer.js';
import { SftpStatusError } from './status.js';
import { fsync } from './ops-file.js';
import { expandPath, hardlink, lsetstat, posixRename } from './ops-path.js';
import type { StatsFs } from 'node:fs';

/** Node's statfs lacks frsize/fsid/flag/namemax; OpenSSH clients only use sizes and counts. */
function statvfsReply(id: number, s: StatsFs): Buffer {
  return new PacketWriter(FXP.EXTENDED_REPLY, 100)
    .u32(id)
    .u64(s.bsize) // f_bsize
    .u64(s.bsize) // f_frsize
    .u64(s.blocks)
    .u64(s.bfree)
    .u64(s.bavail)
    .u64(s.files)
    .u64(s.ffree)
    .u64(s.ffree) // f_favail
    .u64(0) // f_fsid
    .u64(STATVFS_FLAG.NOSUID) // f_flag: nothing we serve is ever setuid
    .u64(255) // f_namemax
    .finish();
}

const statvfs: Handler = async (ctx, id, r) => statvfsReply(id, await ctx.fs.statfs(r.bytes()));

const fstatvfs: Handler = async (ctx, id, r) => {
  const h = ctx.handles.get(r.bytes());
  return statvfsReply(id, await (h.kind === 'file' ? h.file : h.dir).statfs());
};

const limits: Handler = async (ctx, id) =>
  new PacketWriter(FXP.EXTENDED_REPLY, 48)
    .u32(id)
    .u64(ctx.limits.maxPacket)
    .u64(ctx.limits.maxRead)
    .u64(ctx.limits.maxWrite)
    // Like OpenSSH: what is still available. The OpenSSH client pipelines min(64, this) requests.
    .u64(Math.max(ctx.handles.room, 1))
    .finish();

const COPY_CHUNK = 256 * 1024;

/**
 * copy-data (draft-ietf-secsh-filexfer-extensions-00): copy a byte range from one open file to
 * another without the data crossing the network. Length 0 means "to end of file".
 */
const copyData: Handler = async (ctx, id, r) => {
  const src = ctx.handles.file(r.bytes());
  const readOffset = r.u64();
  const length = r.u64();
  const dst = ctx.handles.file(r.bytes());
  const writeOffset = r.u64();
  if (!src.file.readable || !dst.file.writable) throw new SftpStatusError(FX.PERMISSION_DENIED);
  const [srcSt, dstSt] = await Promise.all([src.file.stat(), dst.file.stat()]);
  // The range ends at the source's size as it is now: copying a file into itself through two
  // handles (or an append handle) would otherwise feed on its own output until the disk is full.
  const total = Math.max(0, Math.min(length !== 0 ? length : Infinity, srcSt.size - readOffset));
  const sameFile = srcSt.dev === dstSt.dev && srcSt.ino === dstSt.ino;
  if (sameFile && rangesOverlap(readOffset, writeOffset, total)) {
    throw new SftpStatusError(FX.FAILURE, 'overlapping copy-data ranges');
  }
  const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(total, 1)));
  let copied = 0;
  while (copied < total) {
    if (ctx.ended.aborted) throw new SftpStatusError(FX.FAILURE, 'session ended'); // a long copy must not outlive it
    const want = Math.min(buf.length, total - copied);
    const n = await src.file.read(buf, 0, want, readOffset + copied);
    if (n === 0) break;
    await dst.file.write(buf.subarray(0, n), writeOffset + copied);
    copied += n;
  }
  return okReply(id);
};

function rangesOverlap(a: number, b: number, length: number): boolean {
  return a < b + length && b < a + length;
}

export const EXTENDED_ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['posix-rename@openssh.com', { kind: 'serial', handler: posixRename }],
  ['statvfs@openssh.com', { kind: 'serial', handler: statvfs }],
  ['fstatvfs@openssh.com', { kind: 'serial', handler: fstatvfs }],
  ['hardlink@openssh.com', { kind: 'serial', handler: hardlink }],
  ['fsync@openssh.com', { kind: 'serial', handler: fsync }],
  ['lsetstat@openssh.com', { kind: 'serial', handler: lsetstat }],
  ['limits@openssh.com', { kind: 'serial', handler: limits }],
  ['expand-path@openssh.com', { kind: 'serial', handler: expandPath }],
  ['copy-data', { kind: 'serial', handler: copyData }],
]);
