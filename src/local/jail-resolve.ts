// Path resolution inside the jail, done by hand so that `..` and symlinks are interpreted
// relative to the served folder and never by the kernel against the host tree.
//
// - Client paths are relative to the jail's "/": leading "/", "", "." are ignored and ".." at
//   the top stays at the top (like a chroot). Backslash is an ordinary file name character.
//   Names are bytes (see name-bytes.ts), whatever their encoding.
// - Symlinks are followed by reading their target and resolving it here. A relative target whose
//   ".." climbs above the jail, or an absolute target that is not inside the jail's host path,
//   is refused with JailError (-> PERMISSION_DENIED); the link is never followed outside.
// - The walk goes from directory descriptor to directory descriptor: each component is looked
//   up as "/proc/self/fd/<its directory>/<name>" and each directory opened O_PATH|O_NOFOLLOW
//   from there, so no lookup ever passes through a host path that someone could swap for a
//   symlink meanwhile. ".." is the pinned directory's own "..", checked to be inside the jail
//   (readlink of its descriptor) before the walk goes on from there. What the walk learns (what
//   exists, where links point) is therefore always about the jail, never about the host around
//   it, and the caller acts on the final name through the pinned parent directory it returns.
// - The work is linear in the components processed and bounded per request (MAX_COMPONENTS,
//   MAX_LINKS), and a walk stops between steps once its session has ended.
// - A walk starts from the directory the previous one ended in when the path leads through it
//   and it is still at that path (kept-dir.ts): one open less per component it saves.
import { closeSync, openSync, realpathSync, statSync, type Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { FsRefusal } from '../sftp/server/filesystem.js';
import type { HandleQuota } from '../sftp/server/handles.js';
import { errnoError } from '../sftp/server/status.js';
import { KeptDirectory, type Lease } from './kept-dir.js';
import { byteString, fsPath, type PathArg } from './name-bytes.js';
import { O_DIRECTORY, O_NOFOLLOW, O_PATH, fdRealPath, fdRef, openFd } from './proc-fd.js';

/** The path would leave the jail: PERMISSION_DENIED to the client, a log line for the operator. */
export class JailError extends FsRefusal {
  override name = 'JailError';
  override readonly code = 'EJAIL';
  /**
   * @param swapped the plan was inside but the opened object was not: someone swapped a path
   * component for a symlink between our check and our use (an attack, or a very odd workload).
   */
  constructor(readonly swapped = false) {
    super(swapped ? 'swapped' : 'outside');
  }
}

const MAX_LINKS = 40; // Linux's MAXSYMLINKS
const MAX_PATH = 4096;
/**
 * Components one walk may process, link expansions included. A 4 KiB path has at most 2048;
 * forty links of 4 KiB targets could make 80,000 (each a system call) without this.
 */
export const MAX_COMPONENTS = 8192;

export class Jail {
  /** Canonical host path of the served folder (resolved once; the admin's own links are trusted). */
  readonly root: string;
  /** The same as a byte string, for comparing with link targets and /proc readlinks. */
  private readonly rootBytes: string;
  private readonly prefix: string;
  private fd: number | null;
  /** Where the last walk ended, for the next one to start from. */
  readonly kept: KeptDirectory;

  /** @param keptDirs counts the directory kept open between walks (kept-dir.ts); unset: not counted */
  constructor(root: string, keptDirs?: HandleQuota) {
    this.root = realpathSync(root);
    if (!statSync(this.root).isDirectory()) throw new Error(`not a directory: ${root}`);
    this.rootBytes = byteString(this.root);
    this.prefix = this.rootBytes === '/' ? '/' : `${this.rootBytes}/`;
    this.fd = openSync(this.root, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    this.kept = new KeptDirectory((hostPath) => this.relative(hostPath), keptDirs);
  }

  /** O_PATH descriptor of the folder, held while the jail is in use: every walk starts here. */
  get rootFd(): number {
    // After close() the number may already belong to another session's file: never use it.
    if (this.fd === null) throw errnoError('EBADF', 'Bad file descriptor');
    return this.fd;
  }

  /** Let go of the folder's descriptors; the jail is unusable afterwards. */
  close(): void {
    this.kept.close();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Is this host path (a byte string) the root or below it? The trailing "/" rules out "root-evil". */
  contains(hostPath: string): boolean {
    return hostPath === this.rootBytes || hostPath.startsWith(this.prefix);
  }

  /** Host absolute path (a byte string) -> path relative to the root, or null when outside. */
  relative(hostPath: string): string | null {
    if (hostPath === this.rootBytes) return '';
    return hostPath.startsWith(this.prefix) ? hostPath.slice(this.prefix.length) : null;
  }
}

/** Where a client path leads: its components, and the final one pinned by its parent directory. */
export interface Resolved {
  /** Plain components below the root (no links, no dots), as byte strings. */
  readonly comps: readonly string[];
  /**
   * O_PATH descriptor of the directory holding `name` (the jail's rootFd for top-level names);
   * when `name` is null, of the object itself: the root, or a directory the path went up to.
   */
  readonly parentFd: number;
  /** The final component (a byte string); null when the path ends at a directory already pinned. */
  readonly name: string | null;
  /** parentFd is the jail's rootFd (to be checked at use: the jail may have been closed since). */
  readonly atRoot: boolean;
  /** Done with parentFd: called once by releaseResolved. */
  readonly release: () => void;
  /** What lstat said of the final name when the walk looked (following, or a trailing "/"). */
  readonly finalStats?: Stats;
  /** The path ended in "/" (or "/.") and names nothing yet: only a directory may be made there. */
  readonly dirOnly: boolean;
}

/** Let go of what a Resolved holds (O_PATH descriptors: closing never blocks on a disk). */
export function releaseResolved(r: Resolved): void {
  r.release();
}

/** A component still to walk: its name, whether a link's target brought it, and whether it must be a directory. */
type Pending = [name: string, fromLink: boolean, dir: boolean];

function parts(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** A path ending in "/" or "/." names a directory (POSIX). */
function endsAsDir(p: string): boolean {
  return /(^|\/)\.?$/.test(p);
}

/** Push components to walk next, the last one marked as a directory when `dir`. */
function pushParts(stack: Pending[], ps: readonly string[], fromLink: boolean, dir: boolean): void {
  const last = ps.length - 1;
  for (let i = last; i >= 0; i--) stack.push([ps[i]!, fromLink, i === last && dir]);
}

/**
 * Push the components of `p` (a byte string) to walk next; its last is marked as a directory
 * when `p` ends as one or when `dir` is set (the link being expanded was itself marked).
 */
function pushPath(stack: Pending[], p: string, fromLink: boolean, dir: boolean): void {
  pushParts(stack, parts(p), fromLink, dir || endsAsDir(p));
}

function cancelled(): Error {
  return errnoError('ECANCELED', 'Operation canceled');
}

/**
 * Resolve a client path inside the jail. The final component may be missing (for create,
 * mkdir, rename targets); a missing or non-directory intermediate component is an error.
 * With followFinal=false a final symlink is returned as itself (lstat semantics), unless the
 * path ends in "/" or "/.", which names the directory the link leads to (POSIX lstat("link/")).
 * A path that ends by going up ("a/b/..", or a link to "..") is the directory itself (name
 * null). The caller must releaseResolved() the result.
 *
 * At most two directory descriptors are held at a time, whatever the depth (a client can build
 * paths thousands of levels deep), and each step is a constant number of system calls.
 */
export async function resolveInJail(jail: Jail, clientPath: PathArg, followFinal: boolean, signal?: AbortSignal): Promise<Resolved> {
  const path = byteString(clientPath);
  if (path.includes('\0')) throw errnoError('ENOENT', 'No such file');
  if (path.length > MAX_PATH) throw errnoError('ENAMETOOLONG', 'File name too long');
  const stack: Pending[] = [];
  const ps = parts(path);
  /** The kept directory, while the walk is in it (it started there and has not left). */
  let lease: Lease | null = jail.kept.lease(ps);
  pushParts(stack, lease ? ps.slice(lease.comps.length) : ps, false, endsAsDir(path));
  let comps: string[] = lease ? [...lease.comps] : [];
  /** Pins the directory `comps` leads to (every component so far was entered); null: the root. */
  let dirFd: number | null = lease ? lease.fd : null;
  const current = (): number => dirFd ?? jail.rootFd;
  const setDir = (fd: number | null): void => {
    if (lease) {
      lease.end();
      lease = null;
    } else if (dirFd !== null) {
      closeSync(dirFd);
    }
    dirFd = fd;
  };
  const entryOf = (name: string): Buffer => fsPath(`${fdRef(current())}/${name}`);
  /** The pinned directory's parent, which must still be inside the jail: the walk goes on from where it really is. */
  const up = async (): Promise<void> => {
    const fd = await openFd(entryOf('..'), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    let rel: string | null;
    try {
      rel = jail.relative(fdRealPath(fd));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (rel === null) {
      // The directory we were in was moved out of the folder meanwhile.
      closeSync(fd);
      throw new JailError(true);
    }
    if (rel === '') {
      closeSync(fd);
      setDir(null);
    } else {
      setDir(fd);
    }
    comps = rel === '' ? [] : rel.split('/');
  };
  let steps = 0;
  let links = 0;
  let finalName: string | null = null;
  let finalStats: Stats | undefined;
  let dirOnly = false;
  const follow = async (entry: Buffer, dir: boolean): Promise<void> => {
    if (++links > MAX_LINKS) throw errnoError('ELOOP', 'Too many levels of symbolic links');
    const target = (await readlink(entry, { encoding: 'buffer' })).toString('latin1');
    if (target.startsWith('/')) {
      const rel = jail.relative(target);
      if (rel === null) throw new JailError();
      comps = [];
      setDir(null);
      pushPath(stack, rel, true, dir);
    } else {
      pushPath(stack, target, true, dir);
    }
  };
  try {
    while (stack.length > 0) {
      if (signal?.aborted) throw cancelled();
      // Every pending component will be processed: refuse as soon as the total is too large.
      if (steps + stack.length > MAX_COMPONENTS) throw errnoError('ELOOP', 'Too many levels of symbolic links');
      steps++;
      const [name, fromLink, dir] = stack.pop()!;
      if (name === '..') {
        if (comps.length > 0) await up();
        else if (fromLink) throw new JailError();
        continue;
      }
      const last = stack.length === 0;
      const entry = entryOf(name);
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
        if (st.isSymbolicLink()) await follow(entry, false);
        else if (st.isDirectory() && ++links <= MAX_LINKS) stack.push([name, fromLink, dir]); // swapped back meanwhile: again
        else throw errnoError('ENOTDIR', 'Not a directory');
        continue;
      }
      if (followFinal || dir) {
        let st: Stats | undefined;
        try {
          st = await lstat(entry);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        if (st?.isSymbolicLink()) {
          await follow(entry, dir);
          continue;
        }
        if (dir && st && !st.isDirectory()) throw errnoError('ENOTDIR', 'Not a directory');
        finalStats = st;
        dirOnly = dir && !st;
      }
      comps.push(name);
      finalName = name;
    }
    const held = dirFd;
    const heldLease = lease;
    dirFd = null; // handed over to the result
    lease = null;
    // The directory the result pins, by the components that lead to it.
    const dirComps = finalName === null ? comps : comps.slice(0, -1);
    const release = heldLease ? () => heldLease.end()
      : held !== null ? once(() => jail.kept.offer(dirComps, held))
      : () => {};
    return { comps, parentFd: held ?? jail.rootFd, atRoot: held === null, release, name: finalName, finalStats, dirOnly };
  } catch (err) {
    setDir(null);
    throw err;
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/**
 * Would following `target` (a byte string), stored in a link whose parent directory is at
 * `linkDirDepth` components below the root, stay inside the jail? Lexical on purpose: used only
 * to decide whether READLINK may show the target, never to decide access.
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
