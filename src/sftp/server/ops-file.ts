// Requests on files: OPEN, CLOSE, READ, WRITE, FSTAT, FSETSTAT and fsync@openssh.com.
import { MODE_BITS, attrsFromStats } from '../protocol/attrs.js';
import { FX, FXF } from '../protocol/constants.js';
import type { Handler, SessionContext } from './context.js';
import type { OpenMode } from './filesystem.js';
import type { Handle } from './handles.js';
import { DATA_HEADER, attrsReply, finishDataReply, handleReply, okReply } from '../protocol/replies.js';
import { readBuffers } from './read-buffers.js';
import { SftpStatusError } from './status.js';

/** Default mode of created files when the client sends no permissions. */
const DEFAULT_FILE_MODE = 0o644;

export function openMode(pflags: number): OpenMode {
  return {
    read: (pflags & FXF.READ) !== 0,
    write: (pflags & FXF.WRITE) !== 0,
    append: (pflags & FXF.APPEND) !== 0,
    create: (pflags & FXF.CREAT) !== 0,
    truncate: (pflags & FXF.TRUNC) !== 0,
    exclusive: (pflags & FXF.EXCL) !== 0,
  };
}

export const open: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  const pflags = r.u32();
  const a = r.attrs();
  const mode = a.permissions !== undefined ? a.permissions & MODE_BITS : DEFAULT_FILE_MODE;
  const handle = await ctx.handles.open('file', async () => ({
    kind: 'file',
    file: await ctx.fs.open(path, openMode(pflags), mode),
    appends: Promise.resolve(),
  }));
  return handleReply(id, handle);
};

/** Release what a handle holds. Used by CLOSE and by session teardown. */
export async function releaseHandle(_ctx: SessionContext, h: Handle): Promise<void> {
  if (h.kind === 'file') await h.file.close();
  else await h.dir.close();
}

export const close: Handler = async (ctx, id, r) => {
  // The handle's room is free at once (a client that got OK may open again right away).
  const h = ctx.handles.remove(r.bytes());
  const done = releaseHandle(ctx, h);
  if (h.kind === 'file' && h.file.writable) {
    await done; // a failed close may have lost written data: the client must hear of it
  } else {
    // Closing what was only read or listed has nothing to report: the answer goes out now and
    // saves the client a thread-pool trip per file. The close is queued in the thread pool
    // ahead of any later open (a FIFO queue), so the descriptors over the caps for that moment
    // are a few at most, inside the headroom the process total keeps (handle-budget.ts).
    done.catch((err: unknown) => ctx.log.warn({ err }, 'closing sftp handle failed'));
  }
  return okReply(id);
};

export const read: Handler = async (ctx, id, r) => {
  const h = ctx.handles.file(r.bytes());
  const offset = r.u64();
  const len = Math.min(r.u32(), ctx.limits.maxRead);
  if (len === 0) throw new SftpStatusError(FX.EOF);
  if (!h.file.readable) throw new SftpStatusError(FX.PERMISSION_DENIED);
  const size = DATA_HEADER + len;
  await ctx.reads.acquire(size); // until the replies held so far leave for the client
  // The file data lands directly behind the reply header: no copy on the way out.
  const buf = readBuffers.take(size);
  let n = 0;
  try {
    n = await h.file.read(buf, DATA_HEADER, len, offset);
  } finally {
    ctx.reads.release(size);
    if (n === 0) readBuffers.giveBack(buf); // failed or at the end: no reply keeps it
  }
  if (n === 0) throw new SftpStatusError(FX.EOF);
  ctx.counters.bytesDown += n;
  return finishDataReply(readBuffers.settle(buf, DATA_HEADER + n), id, n);
};

export const write: Handler = async (ctx, id, r) => {
  const h = ctx.handles.file(r.bytes());
  const offset = r.u64();
  const data = r.bytes(); // a slice of the request packet: written without copying
  if (!h.file.writable) throw new SftpStatusError(FX.PERMISSION_DENIED);
  if (h.file.appending) {
    const done = h.appends.then(() => h.file.write(data, offset));
    h.appends = done.catch(() => {});
    await done;
  } else {
    await h.file.write(data, offset);
  }
  ctx.counters.bytesUp += data.length;
  return okReply(id);
};

export const fstat: Handler = async (ctx, id, r) => {
  const h = ctx.handles.get(r.bytes());
  return attrsReply(id, attrsFromStats(await (h.kind === 'file' ? h.file : h.dir).stat()));
};

export const fsetstat: Handler = async (ctx, id, r) => {
  const h = ctx.handles.get(r.bytes());
  const a = r.attrs();
  await (h.kind === 'file' ? h.file : h.dir).setstat(a);
  return okReply(id);
};

export const fsync: Handler = async (ctx, id, r) => {
  const h = ctx.handles.file(r.bytes());
  await h.file.sync();
  return okReply(id);
};
