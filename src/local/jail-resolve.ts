// Path resolution inside the jail, done by hand so that `..` and symlinks are interpreted
// relative to the served folder and never by the kernel against the host tree.
//
// - Client paths are relative to the jail's "/": leading "/", "", "." are ignored and ".." at
//   the top stays at the top (like a chroot). Backslash is an ordinary file name character.
// - Symlinks are followed by reading their target and resolving it here. A relative target whose
//   ".." climbs above the jail, or an absolute target that is not inside the jail's host path,
//   is refused with JailError (-> PERMISSION_DENIED); the link is never followed outside.
// - The walk goes from directory descriptor to directory descriptor: each component is looked
//   up as "/proc/self/fd/<its directory>/<name>" and each directory opened O_PATH|O_NOFOLLOW
//   from there, so no lookup ever passes through a host path that someone could swap for a
//   symlink meanwhile. What the walk learns (what exists, where links point) is therefore always
//   about the jail, never about the host around it, and the caller acts on the final name
//   through the pinned parent directory it returns.
import { closeSync, openSync, realpathSync, statSync, type Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { errnoError } from '../sftp/status.js';
import { O_DIRECTORY, O_NOFOLLOW, O_PATH, fdRef, openFd } from './proc-fd.js';

/** The path would leave the jail. Carries an errno-like code so status mapping stays in one place. */
export class JailError extends Error {
  override name = 'JailError';
  readonly code = 'EJAIL';
  /**
   * @param swapped the plan was inside but the opened object was not: someone swapped a path
   * component for a symlink between our check and our use (an attack, or a very odd workload).
   */
  constructor(readonly swapped = false) {
    super('Permission denied');
  }
}

const MAX_LINKS = 40; // Linux's MAXSYMLINKS
const MAX_PATH = 4096;

export class Jail {
  /** Canonical host path of the served folder (resolved once; the admin's own links are trusted). */
  readonly root: string;
  private readonly prefix: string;
  private fd: number | null;

  constructor(root: string) {
    this.root = realpathSync(root);
    if (!statSync(this.root).isDirectory()) throw new Error(`not a directory: ${root}`);
    this.prefix = this.root === '/' ? '/' : `${this.root}/`;
    this.fd = openSync(this.root, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  }

  /** O_PATH descriptor of the folder, held while the jail is in use: every walk starts here. */
  get rootFd(): number {
    // After close() the number may already belong to another session's file: never use it.
    if (this.fd === null) throw errnoError('EBADF', 'Bad file descriptor');
    return this.fd;
  }

  /** Let go of the folder's descriptor; the jail is unusable afterwards. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Is this host path the root or below it? (The trailing "/" rules out "root-evil" siblings.) */
  contains(hostPath: string): boolean {
    return hostPath === this.root || hostPath.startsWith(this.prefix);
  }

  /** Host absolute path -> path relative to the root, or null when outside. */
  relative(hostPath: string): string | null {
    if (hostPath === this.root) return '';
    return hostPath.startsWith(this.prefix) ? hostPath.slice(this.prefix.length) : null;
  }
}

/** Where a client path leads: its components, and the final one pinned by its parent directory. */
export interface Resolved {
  /** Plain components below the root (no links, no dots), as the walk found them. */
  readonly comps: readonly string[];
  /**
   * O_PATH descriptor of the directory holding `name` (the jail's rootFd for top-level names);
   * when `name` is null, of the object itself: the root, or a directory the path went up to.
   */
  readonly parentFd: number;
  /** The final component; null when the path ends at a directory already pinned (see parentFd). */
  readonly name: string | null;
  /** parentFd was opened for this result (it is not the jail's rootFd). */
  readonly ownsParent: boolean;
  /** With followFinal: what lstat said of the final name (no link), so stat needs no second look. */
  readonly finalStats?: Stats;
}

/** Close what a Resolved holds (O_PATH descriptors: closing never blocks on a disk). */
export function releaseResolved(r: Resolved): void {
  if (r.ownsParent) closeSync(r.parentFd);
}

function parts(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

type Pending = [name: string, fromLink: boolean];

function pushPath(stack: Pending[], p: string, fromLink: boolean): void {
  const ps = parts(p);
  for (let i = ps.length - 1; i >= 0; i--) stack.push([ps[i]!, fromLink]);
}

/**
 * Resolve a client path inside the jail. The final component may be missing (for create,
 * mkdir, rename targets); a missing or non-directory intermediate component is an error.
 * With followFinal=false a final symlink is returned as itself (lstat semantics). A path that
 * ends by going up ("a/b/..", or a link to "..") is the directory itself (name null). The caller
 * must releaseResolved() the result.
 *
 * One directory descriptor is held at a time, whatever the depth (a client can build paths
 * thousands of levels deep): a ".." walks down again from the root to the new parent.
 */
export async function resolveInJail(jail: Jail, clientPath: string, followFinal: boolean): Promise<Resolved> {
  if (clientPath.includes('\0')) throw errnoError('ENOENT', 'No such file');
  if (clientPath.length > MAX_PATH) throw errnoError('ENAMETOOLONG', 'File name too long');
  const stack: Pending[] = [];
  pushPath(stack, clientPath, false);
  const comps: string[] = [];
  /** Pins the directory `comps` leads to (every component so far was entered); null: the root. */
  let dirFd: number | null = null;
  const current = (): number => dirFd ?? jail.rootFd;
  const setDir = (fd: number | null): void => {
    if (dirFd !== null) closeSync(dirFd);
    dirFd = fd;
  };
  /** Pin `comps` again from the root, descriptor to descriptor, following no link. */
  const reenter = async (): Promise<void> => {
    setDir(null);
    for (const c of comps) setDir(await openFd(`${fdRef(current())}/${c}`, O_PATH | O_DIRECTORY | O_NOFOLLOW));
  };
  let links = 0;
  let finalName: string | null = null;
  let finalStats: Stats | undefined;
  const follow = async (entry: string): Promise<void> => {
    if (++links > MAX_LINKS) throw errnoError('ELOOP', 'Too many levels of symbolic links');
    const target = await readlink(entry);
    if (target.startsWith('/')) {
      const rel = jail.relative(target);
      if (rel === null) throw new JailError();
      comps.length = 0;
      setDir(null);
      pushPath(stack, rel, true);
    } else {
      pushPath(stack, target, true);
    }
  };
  try {
    while (stack.length > 0) {
      const [name, fromLink] = stack.pop()!;
      if (name === '..') {
        if (comps.length > 0) {
          comps.pop();
          await reenter();
        } else if (fromLink) {
          throw new JailError();
        }
        continue;
      }
      const last = stack.length === 0;
      const entry = `${fdRef(current())}/${name}`;
      if (!last) {
        // The common case in one call: a directory, entered without following a link.
        try {
          const fd = await openFd(entry, O_PATH | O_DIRECTORY | O_NOFOLLOW);
          comps.push(name);
          setDir(fd);
          continue;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
        }
        const st = await lstat(entry);
        if (st.isSymbolicLink()) await follow(entry);
        else if (st.isDirectory() && ++links <= MAX_LINKS) stack.push([name, fromLink]); // swapped back meanwhile: again
        else throw errnoError('ENOTDIR', 'Not a directory');
        continue;
      }
      if (followFinal) {
        let st: Stats | undefined;
        try {
          st = await lstat(entry);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        if (st?.isSymbolicLink()) {
          await follow(entry);
          continue;
        }
        finalStats = st;
      }
      comps.push(name);
      finalName = name;
    }
    const held = dirFd;
    dirFd = null; // handed over to the result
    return { comps, parentFd: held ?? jail.rootFd, ownsParent: held !== null, name: finalName, finalStats };
  } catch (err) {
    setDir(null);
    throw err;
  }
}

/**
 * Would following `target`, stored in a link whose parent directory is at `linkDirDepth`
 * components below the root, stay inside the jail? Lexical on purpose: used only to decide
 * whether READLINK may show the target, never to decide access.
 */
export function linkTargetForClient(jail: Jail, linkDirDepth: number, target: string): string | null {
  const absolute = target.startsWith('/');
  const rel = absolute ? jail.relative(target) : target;
  if (rel === null) return null;
  let depth = absolute ? 0 : linkDirDepth;
  for (const p of parts(rel)) {
    depth += p === '..' ? -1 : 1;
    if (depth < 0) return null;
  }
  return absolute ? `/${rel}` : target;
}
