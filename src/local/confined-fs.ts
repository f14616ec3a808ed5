// The file system as one local-mode user sees it: a folder on the host presented as "/", with
// no way out. Every client-named path goes through two steps:
//
// 1. Walk (jail-resolve.ts): component by component from directory descriptor to directory
//    descriptor (O_PATH|O_NOFOLLOW through /proc/self/fd/N/<name>), following only symlinks whose
//    targets stay inside the jail and clamping client ".." at the top. No host path is looked up
//    on the way, so swapping a component for a symlink meanwhile cannot lead the walk outside,
//    nor tell the client anything about what is outside. It ends with the final name and its
//    parent directory pinned by a descriptor.
// 2. Act on "/proc/self/fd/<parent>/<name>": the magic link lands on exactly the directory the
//    walk pinned, and the final name is never followed (O_NOFOLLOW, or calls that do not follow:
//    lstat, unlink, rename, link, mkdir...). Objects we act on as a whole (stat, setstat, statvfs,
//    opendir) are pinned the same way with an O_PATH|O_NOFOLLOW fd and used through their own
//    /proc/self/fd path. Every descriptor opened for the client is also checked to lie inside
//    (readlink /proc/self/fd/N), a second line of defence.
//
// So a race can at worst make an operation fail or land on another object inside the jail.
// Host paths never leave this module: callers get jail paths ("/a/b") or fds. Names are bytes
// end to end (name-bytes.ts): paths come in as Buffers (or UTF-8 text), and names, link targets
// and paths go out as Buffers, so whatever a client lists it can open.
import { closeSync, constants, type Stats, type StatsFs } from 'node:fs';
import { chmod, link, lstat, mkdir, opendir, readlink, rename, rmdir, statfs, symlink, unlink } from 'node:fs/promises';
import type { AttrChanges, OpenMode, SftpDir, SftpFile, SftpFileSystem } from '../sftp/server/filesystem.js';
import type { HandleQuota } from '../sftp/server/handles.js';
import { errnoError } from '../sftp/server/status.js';
import { applyAttrs, refuseSetIdFile } from './apply-attrs.js';
import { LocalDir, LocalFile } from './confined-file.js';
import { Jail, JailError, linkTargetForClient, releaseResolved, resolveInJail, type Resolved } from './jail-resolve.js';
import { byteString, fsPath, type PathArg } from './name-bytes.js';
import {
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  assertProcFdSupport,
  closeFd,
  fdRealPath,
  fdRef,
  fstatFd,
  openFd,
} from './proc-fd.js';

export type { PathArg } from './name-bytes.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_APPEND, O_TRUNC } = constants;

/** OpenSSH's flags_from_portable(). */
export function openFlags(m: OpenMode): number {
  let f = m.read && m.write ? O_RDWR : m.write ? O_WRONLY : O_RDONLY;
  if (m.append) f |= O_APPEND;
  if (m.create) f |= O_CREAT;
  if (m.truncate) f |= O_TRUNC;
  if (m.exclusive) f |= O_EXCL;
  return f;
}

/** Errnos on link() for which OpenSSH falls back from link+unlink to a checked rename(). */
const NO_LINK_SUPPORT = new Set(['EOPNOTSUPP', 'ENOTSUP', 'ENOSYS', 'EXDEV', 'EPERM']);

/** Mode bits mkdir(2) ignores (set-id) and which are then applied with chmod, so none is dropped silently. */
const SET_ID_BITS = 0o6000;

export class ConfinedFs implements SftpFileSystem {
  private readonly jail: Jail;
  /** Opens refused because the object turned out to be outside: a component was swapped. */
  swapsDetected = 0;

  /**
   * @param signal aborted when the session ends: path walks stop between steps.
   * @param keptDirs counts the directory kept open between walks (see Jail)
   */
  constructor(root: string, private readonly signal?: AbortSignal, keptDirs?: HandleQuota) {
    assertProcFdSupport();
    this.jail = new Jail(root, keptDirs);
  }

  /** Let go of the folder (at session end). */
  close(): void {
    this.jail.close();
  }

  /** Resolve `path` and run fn on the result, releasing its descriptors afterwards. */
  private async at<T>(path: PathArg, followFinal: boolean, fn: (r: Resolved) => Promise<T>): Promise<T> {
    const r = await resolveInJail(this.jail, path, followFinal, this.signal);
    try {
      return await fn(r);
    } finally {
      releaseResolved(r);
    }
  }

  /**
   * Like at(), for operations on a name in its directory (the root itself is `rootError`). A
   * path ending in "/" that names nothing yet is refused (ENOENT) unless `dirOnlyOk`: only a
   * directory may be made there.
   */
  private atEntry<T>(path: PathArg, rootError: () => Error, fn: (entry: Buffer, r: Resolved) => Promise<T>, dirOnlyOk = false): Promise<T> {
    return this.at(path, false, (r) => {
      if (r.name === null) throw rootError();
      if (r.dirOnly && !dirOnlyOk) throw errnoError('ENOENT', 'No such file');
      return fn(this.entryOf(r), r);
    });
  }

  /** Throws JailError unless `fd` (already open) lives inside the jail. */
  verifyFd(fd: number): void {
    if (!this.jail.contains(fdRealPath(fd))) {
      this.swapsDetected++;
      throw new JailError(true);
    }
  }

  private async openVerified(path: string | Buffer, flags: number, mode?: number): Promise<number> {
    const fd = await openFd(path, flags, mode);
    try {
      this.verifyFd(fd);
    } catch (err) {
      await closeFd(fd);
      throw err;
    }
    return fd;
  }

  /**
   * The directory a path ended at (name null: the root, or one reached by ".."), through its
   * pinned descriptor: /proc/self/fd/N is a link to follow here.
   */
  private openSelf(r: Resolved, flags: number, mode?: number): Promise<number> {
    return this.openVerified(fdRef(this.fdOf(r)), flags, mode);
  }

  /** The final name of `r` through its pinned parent directory. */
  private entryOf(r: Resolved): Buffer {
    return fsPath(`${fdRef(this.fdOf(r))}/${r.name!}`);
  }

  /** r.parentFd, checked: the jail's own descriptor must not be used after close(). */
  private fdOf(r: Resolved): number {
    return r.atRoot ? this.jail.rootFd : r.parentFd;
  }

  /** A verified O_PATH fd for the object itself (never a symlink's target). Caller closes it. */
  private pinObject(r: Resolved, extraFlags = 0): Promise<number> {
    if (r.name === null) return this.openSelf(r, O_PATH | O_DIRECTORY | extraFlags);
    return this.openVerified(this.entryOf(r), O_PATH | O_NOFOLLOW | extraFlags);
  }

  private async withObject<T>(r: Resolved, fn: (fd: number) => Promise<T>, extraFlags = 0): Promise<T> {
    const fd = await this.pinObject(r, extraFlags);
    try {
      return await fn(fd);
    } finally {
      closeSync(fd); // O_PATH: nothing to flush, and a thread-pool trip costs more than the call
    }
  }

  /** Canonical jail path; the final component may not exist yet (like OpenSSH's realpath). */
  realpath(path: PathArg): Promise<Buffer> {
    return this.at(path, true, async (r) => fsPath(`/${r.comps.join('/')}`));
  }

  stat(path: PathArg, followFinal: boolean): Promise<Stats> {
    return this.at(path, followFinal, async (r) => {
      if (r.name === null) return fstatFd(this.fdOf(r));
      // Following, the walk has looked at the final name already (to see whether it is a link);
      // not following, one lstat through the pinned parent is the answer.
      if (!followFinal) return lstat(this.entryOf(r));
      if (!r.finalStats) throw errnoError('ENOENT', 'No such file');
      return r.finalStats;
    });
  }

  /**
   * open(2) with the client's flags; the fd is verified to be inside the jail. Set-id bits in a
   * create mode are refused while we run as root (apply-attrs.ts).
   */
  async open(path: PathArg, m: OpenMode, mode: number): Promise<SftpFile> {
    const flags = openFlags(m);
    const fd = await this.openFd(path, flags, mode);
    const access = flags & (O_RDONLY | O_WRONLY | O_RDWR);
    return new LocalFile(fd, access !== O_WRONLY, access !== O_RDONLY, m.append);
  }

  /** open(2) with OS flags: the verified descriptor. */
  openFd(path: PathArg, flags: number, mode: number): Promise<number> {
    const creating = (flags & O_CREAT) !== 0;
    if (creating) refuseSetIdFile(mode, true);
    // O_CREAT|O_EXCL must not follow a final symlink (POSIX), everything else does.
    const exclusive = creating && (flags & O_EXCL) !== 0;
    // O_NONBLOCK: a FIFO in the folder must not hang a threadpool thread (no effect on files).
    const f = flags | O_NOFOLLOW | O_NONBLOCK;
    const attempt = (follow: boolean) =>
      this.at(path, follow, (r) => {
        if (r.name === null) return this.openSelf(r, f & ~O_NOFOLLOW, mode);
        // "name/" is a directory: never created as a file (EISDIR, as open(2) says).
        if (r.dirOnly) throw errnoError(creating ? 'EISDIR' : 'ENOENT', creating ? 'Is a directory' : 'No such file');
        return this.openVerified(this.entryOf(r), f, mode);
      });
    if (exclusive) return attempt(false);
    // Most names are no links: open without looking first (O_NOFOLLOW), and resolve the final
    // link only when the kernel says it is one.
    return attempt(false).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ELOOP') throw err;
      return attempt(true);
    });
  }

  opendir(path: PathArg): Promise<SftpDir> {
    return this.at(path, true, async (r) => {
      const dirFd = await this.pinObject(r, O_DIRECTORY);
      try {
        // Names as their bytes: a Latin-1 name listed as UTF-8 could never be opened again.
        return new LocalDir(await opendir(fdRef(dirFd), { bufferSize: 128, encoding: 'buffer' as BufferEncoding }), dirFd);
      } catch (err) {
        closeSync(dirFd);
        throw err;
      }
    });
  }

  /** SETSTAT (followFinal) or lsetstat@openssh.com. */
  setstat(path: PathArg, attrs: AttrChanges, followFinal: boolean): Promise<void> {
    return this.at(path, followFinal, (r) => this.withObject(r, async (fd) => {
      const st = await fstatFd(fd);
      // Resolution followed every link, so a link here means it was swapped in meanwhile.
      if (followFinal && st.isSymbolicLink()) throw errnoError('ELOOP', 'Too many levels of symbolic links');
      await applyAttrs(fdRef(fd), st, attrs);
    }));
  }

  /** mkdir(2) ignores set-id bits in its mode: asked for, they are applied afterwards. */
  mkdir(path: PathArg, mode: number): Promise<void> {
    return this.atEntry(path, () => errnoError('EEXIST', 'File exists'), async (entry, r) => {
      await mkdir(entry, mode);
      if ((mode & SET_ID_BITS) === 0) return;
      await this.withObject(r, async (fd) => {
        const st = await fstatFd(fd);
        if (!st.isDirectory()) throw errnoError('EEXIST', 'File exists'); // swapped meanwhile
        await chmod(fdRef(fd), (st.mode & 0o1777) | (mode & SET_ID_BITS));
      }, O_DIRECTORY);
    }, true);
  }

  rmdir(path: PathArg): Promise<void> {
    return this.atEntry(path, () => errnoError('EBUSY', 'Device or resource busy'), (entry) => rmdir(entry));
  }

  remove(path: PathArg): Promise<void> {
    return this.atEntry(path, () => errnoError('EISDIR', 'Is a directory'), (entry) => unlink(entry));
  }

  /** Two verified entries at once (rename, link). Neither may be the root; a target "x/" needs a directory. */
  private inTwoParents(a: PathArg, b: PathArg, fn: (ea: Buffer, eb: Buffer) => Promise<void>): Promise<void> {
    const busy = () => errnoError('EBUSY', 'Device or resource busy');
    return this.atEntry(a, busy, (ea) => this.atEntry(b, busy, async (eb, rb) => {
      if (rb.dirOnly && !(await lstat(ea)).isDirectory()) throw errnoError('ENOTDIR', 'Not a directory');
      return fn(ea, eb);
    }, true));
  }

  /** SSH_FXP_RENAME: fails if the target exists (OpenSSH's link+unlink for regular files). */
  rename(from: PathArg, to: PathArg): Promise<void> {
    return this.inTwoParents(from, to, renameNoReplace);
  }

  /** posix-rename@openssh.com: rename(2), replacing the target. */
  posixRename(from: PathArg, to: PathArg): Promise<void> {
    return this.inTwoParents(from, to, (ea, eb) => rename(ea, eb));
  }

  /** hardlink@openssh.com. link(2) does not follow a symlink source on Linux. */
  link(existing: PathArg, newPath: PathArg): Promise<void> {
    return this.inTwoParents(existing, newPath, (ea, eb) => link(ea, eb));
  }

  /** The target is stored as given; following it later goes through resolveInJail like any path. */
  symlink(target: PathArg, linkPath: PathArg): Promise<void> {
    const bytes = byteString(target);
    if (bytes.includes('\0')) return Promise.reject(errnoError('EINVAL', 'Invalid argument'));
    return this.atEntry(linkPath, () => errnoError('EEXIST', 'File exists'), (entry) => symlink(fsPath(bytes), entry));
  }

  /** Link target as the client may see it: in-jail absolute targets as jail paths; escapes refused. */
  readlink(path: PathArg): Promise<Buffer> {
    return this.atEntry(path, () => errnoError('EINVAL', 'Invalid argument'), async (entry, r) => {
      const target = (await readlink(entry, { encoding: 'buffer' })).toString('latin1');
      const shown = linkTargetForClient(this.jail, r.comps.length - 1, target);
      if (shown === null) throw new JailError();
      return fsPath(shown);
    });
  }

  statfs(path: PathArg): Promise<StatsFs> {
    return this.at(path, true, (r) => this.withObject(r, (fd) => statfs(fdRef(fd))));
  }
}


async function renameNoReplace(from: Buffer, to: Buffer): Promise<void> {
  const st = await lstat(from);
  if (st.isFile()) {
    try {
      await link(from, to);
    } catch (err) {
      if (!NO_LINK_SUPPORT.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      return checkedRename(from, to);
    }
    try {
      await unlink(from);
    } catch (err) {
      await unlink(to).catch(() => undefined);
      throw err;
    }
    return;
  }
  return checkedRename(from, to);
}

/** Racy by nature (as in OpenSSH), but both names are pinned inside the jail. */
async function checkedRename(from: Buffer, to: Buffer): Promise<void> {
  const exists = await lstat(to).then(
    () => true,
    () => false,
  );
  if (exists) throw errnoError('EEXIST', 'File exists');
  await rename(from, to);
}
