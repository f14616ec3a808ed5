// Requests that name paths. All path handling (and every confinement rule) lives in
// ConfinedFs; these only parse arguments and shape replies. Paths are passed on as the bytes the
// client sent: file names need not be UTF-8.
import { MODE_BITS, attrsFromStats } from '../protocol/attrs.js';
import { FX } from '../protocol/constants.js';
import type { Handler } from './context.js';
import { attrsReply, okReply, singleNameReply } from '../protocol/replies.js';
import { SftpStatusError } from './status.js';

/** Default mode of created directories when the client sends no permissions. */
const DEFAULT_DIR_MODE = 0o755;

export const stat: Handler = async (ctx, id, r) => attrsReply(id, attrsFromStats(await ctx.fs.stat(r.bytes(), true)));

export const lstat: Handler = async (ctx, id, r) => attrsReply(id, attrsFromStats(await ctx.fs.stat(r.bytes(), false)));

export const setstat: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  await ctx.fs.setstat(path, r.attrs(), true);
  return okReply(id);
};

/** lsetstat@openssh.com: like SETSTAT but a final symlink is changed itself. */
export const lsetstat: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  await ctx.fs.setstat(path, r.attrs(), false);
  return okReply(id);
};

export const mkdir: Handler = async (ctx, id, r) => {
  const path = r.bytes();
  const a = r.attrs();
  await ctx.fs.mkdir(path, a.permissions !== undefined ? a.permissions & MODE_BITS : DEFAULT_DIR_MODE);
  return okReply(id);
};

export const rmdir: Handler = async (ctx, id, r) => {
  await ctx.fs.rmdir(r.bytes());
  return okReply(id);
};

export const remove: Handler = async (ctx, id, r) => {
  await ctx.fs.remove(r.bytes());
  return okReply(id);
};

export const rename: Handler = async (ctx, id, r) => {
  const from = r.bytes();
  await ctx.fs.rename(from, r.bytes());
  return okReply(id);
};

export const posixRename: Handler = async (ctx, id, r) => {
  const from = r.bytes();
  await ctx.fs.posixRename(from, r.bytes());
  return okReply(id);
};

export const hardlink: Handler = async (ctx, id, r) => {
  const existing = r.bytes();
  await ctx.fs.link(existing, r.bytes());
  return okReply(id);
};

export const readlink: Handler = async (ctx, id, r) => singleNameReply(id, await ctx.fs.readlink(r.bytes()));

/**
 * SSH_FXP_SYMLINK. The draft says (linkpath, targetpath) but OpenSSH has always sent and read
 * them the other way round, and every client follows OpenSSH: first the target, then the link.
 */
export const symlink: Handler = async (ctx, id, r) => {
  const target = r.bytes();
  const linkPath = r.bytes();
  await ctx.fs.symlink(target, linkPath);
  return okReply(id);
};

export const realpath: Handler = async (ctx, id, r) => singleNameReply(id, await ctx.fs.realpath(r.bytes()));

/** expand-path@openssh.com: "~" and "~/x" are relative to the user's folder, which is "/". */
export const expandPath: Handler = async (ctx, id, r) => {
  let path = r.bytes();
  if (path[0] === TILDE) {
    if (path.length === 1) path = Buffer.from('/');
    else if (path[1] === SLASH) path = path.subarray(1);
    else throw new SftpStatusError(FX.NO_SUCH_FILE); // ~otheruser
  }
  return singleNameReply(id, await ctx.fs.realpath(path));
};

const TILDE = 0x7e;
const SLASH = 0x2f;
