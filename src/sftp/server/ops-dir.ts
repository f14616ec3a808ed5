// OPENDIR / READDIR. Entries are listed with lstat attributes (links shown as links, never
// followed) and OpenSSH-style `ls -l` longnames, up to READDIR_BATCH per reply. Names are the
// bytes on disk, in whatever encoding they are: what a client lists it can open.
import { attrsFromStats } from '../protocol/attrs.js';
import { FX, READDIR_BATCH } from '../protocol/constants.js';
import type { Handler } from './context.js';
import { longname } from './longname.js';
import { handleReply, nameReply, type NameEntry } from '../protocol/replies.js';
import { SftpStatusError } from './status.js';

export const opendir: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  const handle = await ctx.handles.open('dir', async () => ({ kind: 'dir', dir: await ctx.fs.opendir(path), eof: false }));
  return handleReply(id, handle);
};

export const readdir: Handler = async (ctx, id, r) => {
  const h = ctx.handles.dir(r.bytes());
  const now = Date.now();
  if (h.eof) throw new SftpStatusError(FX.EOF);
  const batch = await h.dir.next(READDIR_BATCH);
  if (batch === null) {
    h.eof = true;
    throw new SftpStatusError(FX.EOF);
  }
  const entries: NameEntry[] = batch.map((e) => ({ name: e.name, longname: longname(e.name, e.stat, now), attrs: attrsFromStats(e.stat) }));
  return nameReply(id, entries);
};
