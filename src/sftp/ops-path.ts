// Requests that name paths. All path handling (and every confinement rule) lives in
// ConfinedFs; these only parse arguments and shape replies.
import { attrsFromStats } from './attrs.js';
import { FX } from './constants.js';
import type { Handler } from './context.js';
import { attrsReply, okReply, singleNameReply } from './replies.js';
import { SftpStatusError } from './status.js';

/** Default mode of created directories when the client sends no permissions. */
const DEFAULT_DIR_MODE = 0o755;

export const stat: Handler = async (ctx, id, r) => attrsReply(id, attrsFromStats(await ctx.fs.stat(r.utf8(), true)));

export const lstat: Handler = async (ctx, id, r) => attrsReply(id, attrsFromStats(await ctx.fs.stat(r.utf8(), false)));

export const setstat: Handler = async (ctx, id, r) => {
  const path = r.utf8();
  await ctx.fs.setstat(path, r.attrs(), true);
  return okReply(id);
};

/** lsetstat@openssh.com: like SETSTAT but a final symlink is changed itself. */
export const lsetstat: Handler = async (ctx, id, r) => {
  const path = r.utf8();
  await ctx.fs.setstat(path, r.attrs(), false);
  return okReply(id);
};

export const mkdir: Handler = async (ctx, id, r) => {
  const path = r.utf8();
  const a = r.attrs();
  await ctx.fs.mkdir(path, a.permissions !== undefined ? a.permissions & 0o777 : DEFAULT_DIR_MODE);
  return okReply(id);
};

export const rmdir: Handler = async (ctx, id, r) => {
  await ctx.fs.rmdir(r.utf8());
  return okReply(id);
};

export const remove: Handler = async (ctx, id, r) => {
  await ctx.fs.remove(r.utf8());
  return okReply(id);
};

export const rename: Handler = async (ctx, id, r) => {
  const from = r.utf8();
  await ctx.fs.rename(from, r.utf8());
  return okReply(id);
};

export const posixRename: Handler = async (ctx, id, r) => {
  const from = r.utf8();
  await ctx.fs.posixRename(from, r.utf8());
  return okReply(id);
};

export const hardlink: Handler = async (ctx, id, r) => {
  const existing = r.utf8();
  await ctx.fs.link(existing, r.utf8());
  return okReply(id);
};

export const readlink: Handler = async (ctx, id, r) => singleNameReply(id, await ctx.fs.readlink(r.utf8()));

/**
 * SSH_FXP_SYMLINK. The draft says (linkpath, targetpath) but OpenSSH has always sent and read
 * them the other way round, and every client follows OpenSSH: first the target, then the link.
 */
export const symlink: Handler = async (ctx, id, r) => {
  const target = r.utf8();
  const linkPath = r.utf8();
  await ctx.fs.symlink(target, linkPath);
  return okReply(id);
};

export const realpath: Handler = async (ctx, id, r) => singleNameReply(id, await ctx.fs.realpath(r.utf8()));

/** expand-path@openssh.com: "~" and "~/x" are relative to the user's folder, which is "/". */
export const expandPath: Handler = async (ctx, id, r) => {
  let path = r.utf8();
  if (path === '~') path = '/';
  else if (path.startsWith('~/')) path = path.slice(1);
  else if (path.startsWith('~')) throw new SftpStatusError(FX.NO_SUCH_FILE); // ~otheruser
  return singleNameReply(id, await ctx.fs.realpath(path));
};
