// Users file: no two users may share a folder or have one inside the other's. The outer user could
// replace the inner folder (or a directory on its path) with a symlink and lead the inner user out
// of their folder. Paths are compared as resolved absolute paths; the stores refuse at login a
// folder whose real path differs (a symlink on it), so comparing the paths as written is enough.
import path from 'node:path';

export interface FolderOwner {
  user: string;
  /** Resolved absolute path. */
  folder: string;
}

export type Overlap =
  | { kind: 'same' | 'inside'; outer: FolderOwner; inner: FolderOwner }
  | { kind: 'contains-root'; owner: FolderOwner };

/** `folder` with a trailing separator, so "is a prefix of" means "is or contains". */
const asPrefix = (folder: string): string => (folder.endsWith(path.sep) ? folder : folder + path.sep);

/**
 * The first overlap among `owners`, or undefined. `absolute` folders may not be or contain `root`
 * (sftp_path, resolved), where the relative folders are. O(n log n): after sorting, a folder and
 * any folder inside it are neighbours or have only folders inside the first between them.
 */
export function findOverlap(owners: FolderOwner[], absolute: FolderOwner[], root: string): Overlap | undefined {
  for (const owner of absolute) {
    if (asPrefix(root).startsWith(asPrefix(owner.folder))) return { kind: 'contains-root', owner };
  }
  const sorted = owners.map((o) => ({ o, key: asPrefix(o.folder) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const outer = sorted[i - 1]!;
    const inner = sorted[i]!;
    if (inner.key.startsWith(outer.key)) return { kind: outer.key === inner.key ? 'same' : 'inside', outer: outer.o, inner: inner.o };
  }
  return undefined;
}
