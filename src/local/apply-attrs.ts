// SETSTAT/FSETSTAT semantics on an already-verified object. `ref` is a /proc/self/fd path, so
// nothing here resolves a client-controlled name.
//
// Permission bits are kept whole (perm & 07777, as OpenSSH's chmod does), and a change that was
// not made is never answered OK. Two deliberate restrictions, because this server may run with
// more privilege than the user:
// - while we run as root, setuid/setgid on regular files is refused (PERMISSION_DENIED): a
//   client must not be able to make root-owned set-id programs in a folder someone else runs;
// - ownership cannot be changed (a UIDGID equal to the current owner is accepted as a no-op).
import type { Stats } from 'node:fs';
import { ftruncate } from 'node:fs';
import { chmod, stat, truncate, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';
import { MODE_BITS } from '../sftp/protocol/attrs.js';
import { FsRefusal, type AttrChanges } from '../sftp/server/filesystem.js';
import { errnoError } from '../sftp/server/status.js';

const ftruncateFd = promisify(ftruncate);


const SET_ID = 0o6000;

/** setuid/setgid asked for on a regular file while the server runs as root: refused, and logged. */
export class SetIdRefusedError extends FsRefusal {
  override name = 'SetIdRefusedError';
  constructor(readonly mode: number) {
    super('setid', { mode: mode.toString(8) });
  }
}

/** Throws SetIdRefusedError when `mode` would give a regular file set-id bits as root. */
export function refuseSetIdFile(mode: number, regularFile: boolean): void {
  if (regularFile && (mode & SET_ID) !== 0 && process.geteuid?.() === 0) throw new SetIdRefusedError(mode & MODE_BITS);
}

/** Applied in OpenSSH's order: size, permissions, times (ownership only checked, first). */
export async function applyAttrs(ref: string, st: Stats, a: AttrChanges, ioFd?: number): Promise<void> {
  if (a.uid !== undefined && a.gid !== undefined && (a.uid !== st.uid || a.gid !== st.gid)) {
    throw errnoError('EPERM', 'Operation not permitted');
  }
  const mode = a.permissions === undefined ? undefined : a.permissions & MODE_BITS;
  if (mode !== undefined) refuseSetIdFile(mode, st.isFile());
  if (a.size !== undefined) {
    if (ioFd !== undefined) await ftruncateFd(ioFd, a.size);
    else await truncate(ref, a.size);
  }
  if (mode !== undefined) {
    await chmod(ref, mode);
    // The kernel drops setgid without an error for an owner outside the file's group.
    if (((await stat(ref)).mode & MODE_BITS) !== mode) throw errnoError('EPERM', 'Operation not permitted');
  }
  if (a.atime !== undefined && a.mtime !== undefined) await utimes(ref, a.atime, a.mtime);
}
