// One row per SFTP request type and per extension we know: what it does to files and which of the
// user's permissions it needs (the model is OpenSSH's sftp-server handlers[] table and its
// does_write column). The proxy's filter and the local server decide with the same rows, so a
// user's permissions mean the same in both modes.
//
// `needs` is a permission word, or how to decide from the request itself:
//   'open'    by the OPEN flags (read: download; write, create, truncate, append: upload; a file
//             that exists already opened for writing: overwrite too)
//   'setstat' by the attributes set (mode, owner: chmod; size: upload and overwrite; times:
//             chmod or upload, so clients that keep a file's time after an upload work)
//   'rename'  rename, and overwrite too when the target exists and the request replaces it
//   null      nothing: reading a named path's metadata, a handle already opened under policy, ...
import { FXP } from './constants.js';
import type { Permission } from '../../policy/permissions.js';

export type AuditEventName = 'upload' | 'download' | 'remove' | 'rename' | 'mkdir' | 'rmdir' | 'setstat' | 'symlink' | 'hardlink' | 'copy';

export interface RequestRule {
  /** The request's name in logs. */
  name: string;
  /** Whether it can change files (OpenSSH's does_write). */
  writes: boolean;
  needs: Permission | 'open' | 'setstat' | 'rename' | null;
  /** The audit event its reply completes (uploads and downloads are reported at CLOSE instead). */
  audit?: AuditEventName;
}

const rule = (name: string, writes: boolean, needs: RequestRule['needs'], audit?: AuditEventName): RequestRule =>
  Object.freeze({ name, writes, needs, audit });

export const REQUESTS: ReadonlyMap<number, RequestRule> = new Map([
  [FXP.OPEN, rule('open', false, 'open')],
  [FXP.CLOSE, rule('close', false, null)],
  [FXP.READ, rule('read', false, 'download')],
  [FXP.WRITE, rule('write', true, 'upload')],
  [FXP.LSTAT, rule('lstat', false, null)],
  [FXP.FSTAT, rule('fstat', false, null)],
  [FXP.SETSTAT, rule('setstat', true, 'setstat', 'setstat')],
  [FXP.FSETSTAT, rule('fsetstat', true, 'setstat', 'setstat')],
  [FXP.OPENDIR, rule('opendir', false, 'list')],
  [FXP.READDIR, rule('readdir', false, 'list')],
  [FXP.REMOVE, rule('remove', true, 'delete', 'remove')],
  [FXP.MKDIR, rule('mkdir', true, 'mkdir', 'mkdir')],
  [FXP.RMDIR, rule('rmdir', true, 'delete', 'rmdir')],
  [FXP.REALPATH, rule('realpath', false, null)],
  [FXP.STAT, rule('stat', false, null)],
  [FXP.RENAME, rule('rename', true, 'rename', 'rename')],
  [FXP.READLINK, rule('readlink', false, null)],
  [FXP.SYMLINK, rule('symlink', true, 'symlink', 'symlink')],
]);

export const EXTENSIONS: ReadonlyMap<string, RequestRule> = new Map([
  ['posix-rename@openssh.com', rule('posix-rename', true, 'rename', 'rename')],
  ['hardlink@openssh.com', rule('hardlink', true, 'symlink', 'hardlink')],
  ['lsetstat@openssh.com', rule('lsetstat', true, 'setstat', 'setstat')],
  ['fsync@openssh.com', rule('fsync', true, 'upload')],
  ['copy-data', rule('copy-data', true, 'upload', 'copy')],
  ['statvfs@openssh.com', rule('statvfs', false, null)],
  ['fstatvfs@openssh.com', rule('fstatvfs', false, null)],
  ['limits@openssh.com', rule('limits', false, null)],
  ['expand-path@openssh.com', rule('expand-path', false, null)],
  ['home-directory', rule('home-directory', false, null)],
  ['users-groups-by-id@openssh.com', rule('users-groups-by-id', false, null)],
  ['space-available', rule('space-available', false, null)],
  ['check-file-name', rule('check-file-name', false, 'download')],
  ['check-file-handle', rule('check-file-handle', false, 'download')],
  ['md5-hash', rule('md5-hash', false, 'download')],
  ['md5-hash-handle', rule('md5-hash-handle', false, 'download')],
]);

/** The rule for a request type, or for an extension by name; undefined: not one we know. */
export function ruleFor(type: number, extension?: string): RequestRule | undefined {
  return type === FXP.EXTENDED ? EXTENSIONS.get(extension ?? '') : REQUESTS.get(type);
}
