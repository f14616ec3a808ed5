// SETSTAT/FSETSTAT semantics on an already-verified object. `ref` is a /proc/self/fd path, so
// nothing here resolves a client-controlled name.
//
// Two deliberate restrictions, because this server may run with more privilege than the user:
// - permission bits are masked to 0777 (no setuid/setgid/sticky from clients);
// - ownership cannot be changed (a UIDGID equal to the current owner is accepted as a no-op).
import type { Stats } from 'node:fs';
import { ftruncate } from 'node:fs';
import { chmod, truncate, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Attrs } from '../sftp/attrs.js';
import { errnoError } from '../sftp/status.js';

const ftruncateFd = promisify(ftruncate);

/** What SETSTAT may change: the v3 attributes (extended pairs are not acted on). */
export type AttrChanges = Omit<Attrs, 'extended'>;

/** Applied in OpenSSH's order: size, permissions, times (ownership only checked, first). */
export async function applyAttrs(ref: string, st: Stats, a: AttrChanges, ioFd?: number): Promise<void> {
  if (a.uid !== undefined && a.gid !== undefined && (a.uid !== st.uid || a.gid !== st.gid)) {
    throw errnoError('EPERM', 'Operation not permitted');
  }
  if (a.size !== undefined) {
    if (ioFd !== undefined) await ftruncateFd(ioFd, a.size);
    else await truncate(ref, a.size);
  }
  if (a.permissions !== undefined) await chmod(ref, a.permissions & 0o777);
  if (a.atime !== undefined && a.mtime !== undefined) await utimes(ref, a.atime, a.mtime);
}
