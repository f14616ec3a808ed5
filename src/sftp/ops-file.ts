// Requests on files: OPEN, CLOSE, READ, WRITE, FSTAT, FSETSTAT and fsync@openssh.com.
import { constants } from 'node:fs';
import { fdRef } from '../local/proc-fd.js';
import { applyAttrs } from '../local/apply-attrs.js';
import { MODE_BITS, attrsFromStats } from './attrs.js';
import { FX, FXF } from './constants.js';
import type { Handler, SessionContext } from './context.js';
import { closeAsync, fstatAsync, fsyncAsync, readAt, writeAllAt } from './fd-io.js';
import type { Handle } from './handles.js';
import { DATA_HEADER, attrsReply, finishDataReply, handleReply, okReply } from './replies.js';
import { SftpStatusError } from './status.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_APPEND, O_CREAT, O_TRUNC, O_EXCL } = constants;

/** Default mode of created files when the client sends no permissions. */
const DEFAULT_FILE_MODE = 0o644;

/** OpenSSH's flags_from_portable(). */
export function openFlags(pflags: number): number {
  let f: number;
  if (pflags & FXF.READ && pflags & FXF.WRITE) f = O_RDWR;
  else if (pflags & FXF.WRITE) f = O_WRONLY;
  else f = O_RDONLY;
  if (pflags & FXF.APPEND) f |= O_APPEND;
  if (pflags & FXF.CREAT) f |= O_CREAT;
  if (pflags & FXF.TRUNC) f |= O_TRUNC;
  if (pflags & FXF.EXCL) f |= O_EXCL;
  return f;
}

export const open: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  const pflags = r.u32();
  const a = r.attrs();
  const mode = a.permissions !== undefined ? a.permissions & MODE_BITS : DEFAULT_FILE_MODE;
  const flags = openFlags(pflags);
  const access = flags & (O_RDONLY | O_WRONLY | O_RDWR);
  const handle = await ctx.handles.open('file', async () => ({
    kind: 'file',
    fd: await ctx.fs.open(path, flags, mode),
    readable: access !== O_WRONLY,
    writable: access !== O_RDONLY,
  }));
  return handleReply(id, handle);
};

/** Release what a handle holds. Used by CLOSE and by session teardown. */
export async function releaseHandle(ctx: SessionContext, h: Handle): Promise<void> {
  if (h.kind === 'file') await closeAsync(h.fd);
  else await ctx.fs.closeDir(h.open);
}

export const close: Handler = async (ctx, id, r) => {
  const h = ctx.handles.remove(r.bytes());
  await releaseHandle(ctx, h);
  return okReply(id);
};

export const read: Handler = async (ctx, id, r) => {
  const h = ctx.handles.file(r.bytes());
  const offset = r.u64();
  const len = Math.min(r.u32(), ctx.limits.maxRead);
  if (len === 0) throw new SftpStatusError(FX.EOF);
  const size = DATA_HEADER + len;
  await ctx.reads.acquire(size); // until the replies held so far leave for the client
  try {
    // The file data lands directly behind the reply header: no copy on the way out.
    const buf = Buffer.allocUnsafe(size);
    const n = await readAt(h.fd, buf, DATA_HEADER, len, offset);
    if (n === 0) throw new SftpStatusError(FX.EOF);
    ctx.counters.bytesDown += n;
    return finishDataReply(buf, id, n);
  } finally {
    ctx.reads.release(size);
  }
};

export const write: Handler = async (ctx, id, r) => {
  const h = ctx.handles.file(r.bytes());
  const offset = r.u64();
  const data = r.bytes(); // a slice of the request packet: written without copying
  await writeAllAt(h.fd, data, offset);
  ctx.counters.bytesUp += data.length;
  return okReply(id);
};

export const fstat: Handler = async (ctx, id, r) => {
  const h = ctx.handles.get(r.bytes());
  const fd = h.kind === 'file' ? h.fd : h.open.dirFd;
  return attrsReply(id, attrsFromStats(await fstatAsync(fd)));
};

export const fsetstat: Handler = async (ctx, id, r) => {
  const h = ctx.handles.get(r.bytes());
  const a = r.attrs();
  const fd = h.kind === 'file' ? h.fd : h.open.dirFd;
  const st = await fstatAsync(fd);
  // Truncate through the fd for files (respects how it was opened); the rest via its /proc path.
  await applyAttrs(fdRef(fd), st, a, h.kind === 'file' ? fd : undefined);
  return okReply(id);
};

export const fsync: Handler = async (ctx, id, r) => {
  const h = ctx.handles.file(r.bytes());
  await fsyncAsync(h.fd);
  return okReply(id);
};
