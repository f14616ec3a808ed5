// What our SFTP server needs from a file system, and all it knows of one (the shape of SFTPGo's
// vfs.Fs or Go pkg/sftp's request handlers). src/local/confined-fs.ts implements it for a user's
// folder; the server never touches a disk itself.
//
// Paths and names are bytes, as the client sent them. Failures are errors carrying a Node-style
// errno `code` (ENOENT, EEXIST...), mapped to SFTP statuses in status.ts, or an FsRefusal.
import type { StatsFs } from 'node:fs';
import type { Attrs } from '../protocol/attrs.js';

/** What the server reads of a stat result (node's fs.Stats has all of it). */
export interface FileStat {
  mode: number;
  size: number;
  uid: number;
  gid: number;
  nlink: number;
  dev: number;
  ino: number;
  atimeMs: number;
  mtimeMs: number;
}

/** What SETSTAT may change: the v3 attributes (extended pairs are not acted on). */
export type AttrChanges = Omit<Attrs, 'extended'>;

/** OPEN's pflags, decoded. */
export interface OpenMode {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
  truncate: boolean;
  exclusive: boolean;
}

export interface SftpFile {
  readonly readable: boolean;
  readonly writable: boolean;
  /** Opened for append: every write lands at the end, in the order written. */
  readonly appending: boolean;
  /** pread: bytes read into buf[offset...], 0 at end of file. */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** pwrite of all of `data` (appended, ignoring `position`, when opened for append). */
  write(data: Buffer, position: number): Promise<void>;
  stat(): Promise<FileStat>;
  setstat(a: AttrChanges): Promise<void>;
  sync(): Promise<void>;
  statfs(): Promise<StatsFs>;
  close(): Promise<void>;
}

export interface DirEntry {
  name: Buffer;
  /** lstat of the entry (links shown as links). */
  stat: FileStat;
}

export interface SftpDir {
  /** The next entries (up to `max`, at least one), or null at the end of the listing. */
  next(max: number): Promise<DirEntry[] | null>;
  stat(): Promise<FileStat>;
  setstat(a: AttrChanges): Promise<void>;
  statfs(): Promise<StatsFs>;
  close(): Promise<void>;
}

export interface SftpFileSystem {
  /** Canonical path of `path`; its final component may not exist yet. */
  realpath(path: Buffer): Promise<Buffer>;
  stat(path: Buffer, followFinal: boolean): Promise<FileStat>;
  open(path: Buffer, mode: OpenMode, createMode: number): Promise<SftpFile>;
  opendir(path: Buffer): Promise<SftpDir>;
  setstat(path: Buffer, attrs: AttrChanges, followFinal: boolean): Promise<void>;
  mkdir(path: Buffer, mode: number): Promise<void>;
  rmdir(path: Buffer): Promise<void>;
  remove(path: Buffer): Promise<void>;
  /** Fails if `to` exists (SSH_FXP_RENAME). */
  rename(from: Buffer, to: Buffer): Promise<void>;
  /** Replaces `to` (posix-rename@openssh.com). */
  posixRename(from: Buffer, to: Buffer): Promise<void>;
  link(existing: Buffer, newPath: Buffer): Promise<void>;
  symlink(target: Buffer, linkPath: Buffer): Promise<void>;
  readlink(path: Buffer): Promise<Buffer>;
  statfs(path: Buffer): Promise<StatsFs>;
  /** The session ended: let go of everything (open files and dirs are closed before this). */
  close(): void;
}

/**
 * The file system refused for a reason the operator should hear of (once per session), beyond
 * an ordinary errno: a path leading outside the user's folder, a path component swapped for a
 * symlink between check and use, a set-id bit the server will not set. The client gets
 * PERMISSION_DENIED.
 */
export class FsRefusal extends Error {
  override name = 'FsRefusal';
  readonly code: string = 'EACCES';
  constructor(readonly reason: 'outside' | 'swapped' | 'setid', readonly detail?: Record<string, unknown>) {
    super('Permission denied');
  }
}
