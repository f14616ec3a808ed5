// Linux-only primitives the jail is built on. An O_PATH descriptor pins a directory entry
// without opening it for I/O (no read permission needed, no side effects on FIFOs/devices), and
// /proc/self/fd/N is a "magic link": a path through it lands on exactly the object the fd
// pins, even if the names leading to it were renamed or swapped for symlinks since.
import { readlinkSync, constants, type PathLike } from 'node:fs';
import { close, fstat, open } from 'node:fs';
import { promisify } from 'node:util';

/** O_PATH on Linux (x86, arm, and every generic-ABI arch). fs.constants does not export it. */
export const O_PATH = 0o10000000;
export const { O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, O_CREAT, O_EXCL } = constants;

export const openFd = promisify(open) as (path: PathLike, flags: number, mode?: number) => Promise<number>;
export const closeFd = promisify(close);
export const fstatFd = promisify(fstat) as (fd: number) => Promise<import('node:fs').Stats>;

/** A path that names the object behind `fd` (usable with path-based fs calls). */
export function fdRef(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * The kernel's idea of where `fd` lives right now (" (deleted)" appended when unlinked), as a
 * byte string (see name-bytes.ts): host paths need not be UTF-8.
 */
export function fdRealPath(fd: number): string {
  // Sync on purpose: a procfs readlink never touches a disk and is cheaper than a threadpool hop.
  return readlinkSync(fdRef(fd), { encoding: 'buffer' }).toString('latin1');
}

/** Refuse to run where the primitives do not exist rather than silently run unconfined. */
export function assertProcFdSupport(): void {
  if (process.platform !== 'linux') throw new Error('the confined file system needs Linux (/proc/self/fd, O_PATH)');
  readlinkSync('/proc/self/fd/0');
}
