// Typed views of SFTP packets, read from their first bytes only: the fields that say what a
// request does (type, id, paths, handle, OPEN flags, which attributes a SETSTAT sets, how many
// bytes a WRITE carries) and what a reply says (status, handle, how many bytes a DATA carries).
// Payloads are never read or copied: strings come back as slices of the given bytes. This is what
// the proxy's filter and the server's policy look at; the server's handlers parse the rest.
import { ATTR, FXP } from './constants.js';
import { PacketError, PacketReader } from './packet-reader.js';

/** Bytes of a packet body enough to decode a request of `type` (the rest is payload). */
export function headBytesFor(type: number): number {
  // WRITE: type, id, handle (at most 256 bytes in practice), offset, data length. Everything
  // else is small and read whole (paths are bounded by the packet cap anyway).
  return type === FXP.WRITE ? 1 + 4 + 4 + 256 + 8 + 4 : Number.POSITIVE_INFINITY;
}

/** Bytes of a reply body enough to decode it: DATA and NAME replies are read only up to their id. */
export function replyHeadBytesFor(type: number): number {
  if (type === FXP.DATA) return 1 + 4 + 4;
  if (type === FXP.NAME || type === FXP.ATTRS || type === FXP.EXTENDED_REPLY) return 1 + 4;
  return 1 + 4 + 4 + 4 + 1024; // STATUS (code and a bounded message), HANDLE (handle)
}

/** Which attribute groups a SETSTAT-like request sets. */
export interface AttrSet {
  size: boolean;
  ownership: boolean;
  permissions: boolean;
  times: boolean;
}

export type SftpRequest =
  | { type: typeof FXP.OPEN; id: number; path: Buffer; pflags: number; /** offset of pflags in the body */ pflagsAt: number }
  | { type: typeof FXP.CLOSE | typeof FXP.FSTAT | typeof FXP.READDIR; id: number; handle: Buffer }
  | { type: typeof FXP.READ; id: number; handle: Buffer; offset: number; length: number }
  | { type: typeof FXP.WRITE; id: number; handle: Buffer; offset: number; length: number }
  | { type: typeof FXP.FSETSTAT; id: number; handle: Buffer; attrs: AttrSet }
  | { type: typeof FXP.SETSTAT; id: number; path: Buffer; attrs: AttrSet }
  | { type: typeof FXP.LSTAT | typeof FXP.STAT | typeof FXP.OPENDIR | typeof FXP.REMOVE | typeof FXP.RMDIR | typeof FXP.REALPATH | typeof FXP.READLINK; id: number; path: Buffer }
  | { type: typeof FXP.MKDIR; id: number; path: Buffer }
  | { type: typeof FXP.RENAME; id: number; path: Buffer; to: Buffer }
  /** SYMLINK as OpenSSH sends it: the target first, then the new link's path. */
  | { type: typeof FXP.SYMLINK; id: number; target: Buffer; path: Buffer }
  | { type: typeof FXP.EXTENDED; id: number; name: string; ext: ExtendedRequest }
  /** A type no version-3 client sends (`type` -1, the type byte in `rawType`). */
  | { type: -1; rawType: number; id: number };

/** The extensions whose arguments matter to policy and audit; others carry only their name. */
export type ExtendedRequest =
  | { kind: 'rename'; path: Buffer; to: Buffer; replaces: boolean }
  | { kind: 'hardlink'; path: Buffer; to: Buffer }
  | { kind: 'setstat'; path: Buffer; attrs: AttrSet }
  | { kind: 'handle'; handle: Buffer }
  | { kind: 'copy'; from: Buffer; to: Buffer }
  | { kind: 'path'; path: Buffer }
  | { kind: 'other' };

function attrSet(r: PacketReader): AttrSet {
  const flags = r.u32();
  return {
    size: (flags & ATTR.SIZE) !== 0,
    ownership: (flags & ATTR.UIDGID) !== 0,
    permissions: (flags & ATTR.PERMISSIONS) !== 0,
    times: (flags & ATTR.ACMODTIME) !== 0,
  };
}

/**
 * Decode a request from the first bytes of its body (type byte onwards; see headBytesFor).
 * Throws PacketError when the bytes do not hold what the type needs.
 */
export function decodeRequest(head: Buffer): SftpRequest {
  if (head.length < 5) throw new PacketError('request without id');
  const type = head[0]!;
  const id = head.readUInt32BE(1);
  const r = new PacketReader(head, 5);
  switch (type) {
    case FXP.OPEN: {
      const path = r.bytes();
      const pflagsAt = head.length - r.remaining;
      return { type, id, path, pflags: r.u32(), pflagsAt };
    }
    case FXP.CLOSE: case FXP.FSTAT: case FXP.READDIR:
      return { type, id, handle: r.bytes() };
    case FXP.READ: case FXP.WRITE: {
      const handle = r.bytes();
      const offset = r.u64();
      return { type, id, handle, offset, length: r.u32() };
    }
    case FXP.FSETSTAT: {
      const handle = r.bytes();
      return { type, id, handle, attrs: attrSet(r) };
    }
    case FXP.SETSTAT: {
      const path = r.bytes();
      return { type, id, path, attrs: attrSet(r) };
    }
    case FXP.LSTAT: case FXP.STAT: case FXP.OPENDIR: case FXP.REMOVE: case FXP.RMDIR: case FXP.REALPATH: case FXP.READLINK: case FXP.MKDIR:
      return { type, id, path: r.bytes() };
    case FXP.RENAME: {
      const path = r.bytes();
      return { type, id, path, to: r.bytes() };
    }
    case FXP.SYMLINK: {
      const target = r.bytes();
      return { type, id, target, path: r.bytes() };
    }
    case FXP.EXTENDED: {
      const name = r.bytes().toString('latin1');
      return { type, id, name, ext: decodeExtended(name, r) };
    }
    default:
      return { type: -1, rawType: type, id };
  }
}

function decodeExtended(name: string, r: PacketReader): ExtendedRequest {
  switch (name) {
    case 'posix-rename@openssh.com': {
      const path = r.bytes();
      return { kind: 'rename', path, to: r.bytes(), replaces: true };
    }
    case 'hardlink@openssh.com': {
      const path = r.bytes();
      return { kind: 'hardlink', path, to: r.bytes() };
    }
    case 'lsetstat@openssh.com': {
      const path = r.bytes();
      return { kind: 'setstat', path, attrs: attrSet(r) };
    }
    case 'fsync@openssh.com': case 'fstatvfs@openssh.com':
      return { kind: 'handle', handle: r.bytes() };
    case 'copy-data': {
      const from = r.bytes();
      r.u64();
      r.u64();
      return { kind: 'copy', from, to: r.bytes() };
    }
    case 'statvfs@openssh.com': case 'expand-path@openssh.com':
      return { kind: 'path', path: r.bytes() };
    default:
      return { kind: 'other' };
  }
}

export type SftpReply =
  | { type: typeof FXP.STATUS; id: number; code: number }
  | { type: typeof FXP.HANDLE; id: number; handle: Buffer }
  | { type: typeof FXP.DATA; id: number; length: number }
  /** NAME, ATTRS, EXTENDED_REPLY, or anything else: only the id matters. */
  | { type: 'other'; id: number };

/** Decode a reply from the first bytes of its body (see replyHeadBytesFor). */
export function decodeReply(head: Buffer): SftpReply {
  if (head.length < 5) throw new PacketError('reply without id');
  const type = head[0]!;
  const id = head.readUInt32BE(1);
  const r = new PacketReader(head, 5);
  if (type === FXP.STATUS) return { type, id, code: r.u32() };
  if (type === FXP.HANDLE) return { type, id, handle: r.bytes() };
  if (type === FXP.DATA) return { type, id, length: r.u32() };
  return { type: 'other', id };
}
