// The file system as one local-mode user sees it: a folder on the host presented as "/", with
// no way out. Every client-named path goes through two steps:
//
// 1. Plan (jail-resolve.ts): walk the path component by component with lstat, following only
//    symlinks whose targets stay inside the jail, clamping client ".." at the top. The plan is a
//    list of plain components, correct only as of when we looked.
// 2. Act through verified descriptors: open the PARENT directory of the final component with
//    O_PATH|O_DIRECTORY|O_NOFOLLOW, ask the kernel where that fd really is
//    (readlink /proc/self/fd/N) and refuse unless it is the root or below root + "/". Then act on
//    "/proc/self/fd/N/<name>": the magic link pins the verified directory, so a component swapped
//    for a symlink after step 1 cannot redirect the operation, and the final name is never
//    followed (O_NOFOLLOW, or calls that do not follow: lstat, unlink, rename, link, mkdir...).
//    Objects we act on as a whole (stat, setstat, statvfs, opendir) are pinned the same way with
//    an O_PATH|O_NOFOLLOW fd, verified, and used through their own /proc/self/fd path.
//
// So a race can at worst make an operation fail or land on another object inside the jail.
// Host paths never leave this module: callers get jail paths ("/a/b") or fds.
import type { Dir, Stats, StatsFs } from 'node:fs';
import { link, lstat, mkdir, opendir, readlink, rename, rmdir, statfs, symlink, unlink } from 'node:fs/promises';
import { errnoError } from '../sftp/status.js';
import { applyAttrs, type AttrChanges } from './apply-attrs.js';
import { Jail, JailError, linkTargetForClient, resolveInJail } from './jail-resolve.js';
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

export type { AttrChanges } from './apply-attrs.js';

/** An open directory listing plus the O_PATH fd that lets us lstat its entries race-free. */
export interface OpenDir {
  dir: Dir;
  dirFd: number;
}

/** Errnos on link() for which OpenSSH falls back from link+unlink to a checked rename(). */
const NO_LINK_SUPPORT = new Set(['EOPNOTSUPP', 'ENOTSUP', 'ENOSYS', 'EXDEV', 'EPERM']);

export class ConfinedFs {
  private readonly jail: Jail;
  /** Opens refused because the object turned out to be outside: a component was swapped. */
  swapsDetected = 0;

  constructor(root: string) {
    assertProcFdSupport();
    this.jail = new Jail(root);
  }

  private resolve(path: string, followFinal: boolean): Promise<string[]> {
    return resolveInJail(this.jail, path, followFinal);
  }

  /** Throws JailError unless `fd` (already open) lives inside the jail. */
  verifyFd(fd: number): void {
    if (!this.jail.contains(fdRealPath(fd))) {
      this.swapsDetected++;
      throw new JailError(true);
    }
  }

  private async openVerified(path: string, flags: number, mode?: number): Promise<number> {
    const fd = await openFd(path, flags, mode);
    try {
      this.verifyFd(fd);
    } catch (err) {
      await closeFd(fd);
      throw err;
    }
    return fd;
  }

  /** Run fn with "/proc/self/fd/<verified parent>/<final name>"; comps must be non-empty. */
  private async inParent<T>(comps: readonly string[], fn: (entry: string) => Promise<T>): Promise<T> {
    const parent = this.jail.hostPath(comps.slice(0, -1));
    const dfd = await this.openVerified(parent, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    try {
      return await fn(`${fdRef(dfd)}/${comps[comps.length - 1]}`);
    } finally {
      await closeFd(dfd);
    }
  }

  /** A verified O_PATH fd for the object itself (never a symlink's target). Caller closes it. */
  private pinObject(comps: readonly string[], extraFlags = 0): Promise<number> {
    const flags = O_PATH | O_NOFOLLOW | extraFlags;
    if (comps.length === 0) return this.openVerified(this.jail.root, flags | O_DIRECTORY);
    return this.inParent(comps, (entry) => this.openVerified(entry, flags));
  }

  private async withObject<T>(comps: readonly string[], fn: (fd: number) => Promise<T>): Promise<T> {
    const fd = await this.pinObject(comps);
    try {
      return await fn(fd);
    } finally {
      await closeFd(fd);
    }
  }

  /** Canonical jail path; the final component may not exist yet (like OpenSSH's realpath). */
  async realpath(path: string): Promise<string> {
    return `/${(await this.resolve(path, true)).join('/')}`;
  }

  async stat(path: string, followFinal: boolean): Promise<Stats> {
    const comps = await this.resolve(path, followFinal);
    return this.withObject(comps, (fd) => fstatFd(fd));
  }

  /** open(2) with the client's flags; the fd is verified to be inside the jail. */
  async open(path: string, flags: number, mode: number): Promise<number> {
    // O_CREAT|O_EXCL must not follow a final symlink (POSIX), everything else does.
    const exclusive = (flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0;
    const comps = await this.resolve(path, !exclusive);
    // O_NONBLOCK: a FIFO in the folder must not hang a threadpool thread (no effect on files).
    const f = flags | O_NOFOLLOW | O_NONBLOCK;
    if (comps.length === 0) return this.openVerified(this.jail.root, f, mode);
    return this.inParent(comps, (entry) => this.openVerified(entry, f, mode));
  }

  async opendir(path: string): Promise<OpenDir> {
    const comps = await this.resolve(path, true);
    const dirFd = await this.pinObject(comps, O_DIRECTORY);
    try {
      return { dir: await opendir(fdRef(dirFd), { bufferSize: 128 }), dirFd };
    } catch (err) {
      await closeFd(dirFd);
      throw err;
    }
  }

  /** lstat of one entry of a directory opened with opendir(). */
  lstatEntry(d: OpenDir, name: string): Promise<Stats> {
    return lstat(`${fdRef(d.dirFd)}/${name}`);
  }

  async closeDir(d: OpenDir): Promise<void> {
    try {
      await d.dir.close();
    } finally {
      await closeFd(d.dirFd);
    }
  }

  /** SETSTAT (followFinal) or lsetstat@openssh.com. */
  async setstat(path: string, attrs: AttrChanges, followFinal: boolean): Promise<void> {
    const comps = await this.resolve(path, followFinal);
    await this.withObject(comps, async (fd) => {
      const st = await fstatFd(fd);
      // Resolution followed every link, so a link here means it was swapped in meanwhile.
      if (followFinal && st.isSymbolicLink()) throw errnoError('ELOOP', 'Too many levels of symbolic links');
      await applyAttrs(fdRef(fd), st, attrs);
    });
  }

  async mkdir(path: string, mode: number): Promise<void> {
    const comps = await this.resolve(path, false);
    if (comps.length === 0) throw errnoError('EEXIST', 'File exists');
    await this.inParent(comps, (entry) => mkdir(entry, mode));
  }

  async rmdir(path: string): Promise<void> {
    const comps = await this.resolve(path, false);
    if (comps.length === 0) throw errnoError('EBUSY', 'Device or resource busy');
    await this.inParent(comps, (entry) => rmdir(entry));
  }

  async remove(path: string): Promise<void> {
    const comps = await this.resolve(path, false);
    if (comps.length === 0) throw errnoError('EISDIR', 'Is a directory');
    await this.inParent(comps, (entry) => unlink(entry));
  }

  /** Two verified entries at once (rename, link). Neither may be the root. */
  private async inTwoParents(a: string, b: string, fn: (ea: string, eb: string) => Promise<void>): Promise<void> {
    const ca = await this.resolve(a, false);
    const cb = await this.resolve(b, false);
    if (ca.length === 0 || cb.length === 0) throw errnoError('EBUSY', 'Device or resource busy');
    await this.inParent(ca, (ea) => this.inParent(cb, (eb) => fn(ea, eb)));
  }

  /** SSH_FXP_RENAME: fails if the target exists (OpenSSH's link+unlink for regular files). */
  rename(from: string, to: string): Promise<void> {
    return this.inTwoParents(from, to, renameNoReplace);
  }

  /** posix-rename@openssh.com: rename(2), replacing the target. */
  posixRename(from: string, to: string): Promise<void> {
    return this.inTwoParents(from, to, (ea, eb) => rename(ea, eb));
  }

  /** hardlink@openssh.com. link(2) does not follow a symlink source on Linux. */
  link(existing: string, newPath: string): Promise<void> {
    return this.inTwoParents(existing, newPath, (ea, eb) => link(ea, eb));
  }

  /** The target is stored as given; following it later goes through resolveInJail like any path. */
  async symlink(target: string, linkPath: string): Promise<void> {
    if (target.includes('\0')) throw errnoError('EINVAL', 'Invalid argument');
    const comps = await this.resolve(linkPath, false);
    if (comps.length === 0) throw errnoError('EEXIST', 'File exists');
    await this.inParent(comps, (entry) => symlink(target, entry));
  }

  /** Link target as the client may see it: in-jail absolute targets as jail paths; escapes refused. */
  async readlink(path: string): Promise<string> {
    const comps = await this.resolve(path, false);
    if (comps.length === 0) throw errnoError('EINVAL', 'Invalid argument');
    const target = await this.inParent(comps, (entry) => readlink(entry));
    const shown = linkTargetForClient(this.jail, comps.length - 1, target);
    if (shown === null) throw new JailError();
    return shown;
  }

  async statfs(path: string): Promise<StatsFs> {
    const comps = await this.resolve(path, true);
    return this.withObject(comps, (fd) => statfs(fdRef(fd)));
  }
}

async function renameNoReplace(from: string, to: string): Promise<void> {
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
async function checkedRename(from: string, to: string): Promise<void> {
  const exists = await lstat(to).then(
    () => true,
    () => false,
  );
  if (exists) throw errnoError('EEXIST', 'File exists');
  await rename(from, to);
}
