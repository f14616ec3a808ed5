// File attributes as SFTP v3 carries them, and their conversion from fs.Stats.
import { ATTR } from './constants.js';

export interface Attrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** Full st_mode (type bits included when we send; clients send permission bits). */
  permissions?: number;
  /** Seconds since the epoch; v3 sends atime and mtime together. */
  atime?: number;
  mtime?: number;
  /** Extended pairs are parsed (to stay in sync with the packet) but not acted on. */
  extended?: Array<[Buffer, Buffer]>;
}

export const NO_ATTRS: Attrs = Object.freeze({});

/** The permission bits a client may set (OpenSSH: chmod(path, perm & 07777)): rwx, setuid, setgid, sticky. */
export const MODE_BITS = 0o7777;

/** Presence flags for the fields set in `a`. */
export function attrFlags(a: Attrs): number {
  let f = 0;
  if (a.size !== undefined) f |= ATTR.SIZE;
  if (a.uid !== undefined && a.gid !== undefined) f |= ATTR.UIDGID;
  if (a.permissions !== undefined) f |= ATTR.PERMISSIONS;
  if (a.atime !== undefined && a.mtime !== undefined) f |= ATTR.ACMODTIME;
  if (a.extended !== undefined && a.extended.length > 0) f |= ATTR.EXTENDED;
  return f;
}

/** Seconds as an unsigned 32-bit value (v3's time fields; wraps in 2106 like everyone else's). */
function secs(ms: number): number {
  return Math.floor(ms / 1000) >>> 0;
}

/** The stat fields SFTP v3 attributes carry (node's fs.Stats has them). */
export interface StatFields {
  size: number;
  uid: number;
  gid: number;
  mode: number;
  atimeMs: number;
  mtimeMs: number;
}

export function attrsFromStats(st: StatFields): Attrs {
  return {
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    permissions: st.mode,
    atime: secs(st.atimeMs),
    mtime: secs(st.mtimeMs),
  };
}
