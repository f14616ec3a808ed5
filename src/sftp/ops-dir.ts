// OPENDIR / READDIR. Entries are listed with lstat attributes (links shown as links, never
// followed) and OpenSSH-style `ls -l` longnames, up to READDIR_BATCH per reply. Names are the
// bytes on disk, in whatever encoding they are: what a client lists it can open.
import { attrsFromStats } from './attrs.js';
import { FX, READDIR_BATCH } from './constants.js';
import type { Handler } from './context.js';
import { longname } from './longname.js';
import { handleReply, nameReply, type NameEntry } from './replies.js';
import { SftpStatusError } from './status.js';

export const opendir: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  const handle = await ctx.handles.open('dir', async () => ({ kind: 'dir', open: await ctx.fs.opendir(path), eof: false }));
  return handleReply(id, handle);
};

export const readdir: Handler = async (ctx, id, r) => {
  const h = ctx.handles.dir(r.bytes());
  const now = Date.now();
  while (!h.eof) {
    const names: Buffer[] = [];
    while (names.length < READDIR_BATCH) {
      const name = await ctx.fs.readEntry(h.open);
      if (name === null) {
        h.eof = true;
        break;
      }
      names.push(name);
    }
    // Entries removed since the directory was read are skipped, as `ls` would.
    const stats = await Promise.all(names.map((n) => ctx.fs.lstatEntry(h.open, n).catch(() => null)));
    const entries: NameEntry[] = [];
    stats.forEach((st, i) => {
      if (st) entries.push({ name: names[i]!, longname: longname(names[i]!, st, now), attrs: attrsFromStats(st) });
    });
    if (entries.length > 0) return nameReply(id, entries);
  }
  throw new SftpStatusError(FX.EOF);
};
