// The directory a session's last path walk ended in, kept open for the next walk while the
// session is busy. A client's requests mostly name files in one directory (put -r, get -r, a
// listing followed by a stat of each entry), and each step of a walk is a thread-pool trip:
// starting from the kept directory saves the O_PATH opens of every component up to it, one trip
// per request for a file one level down, more for deeper ones.
//
// The kept descriptor is only used while the kernel still places it at the same path inside the
// jail (a procfs readlink at every use, never a disk call; a removed directory reads as
// "... (deleted)" and is never used), so a directory renamed, removed or swapped for a link
// since is not used, and what follows is the same walk as from the root. Two things a walk from
// the root would notice are not looked at again: search permission on the directories above it
// (as for a process whose working directory is there) and, on a network file system, a rename
// made by another host that this kernel has not seen yet. Both last at most KEEP_IDLE_MS after
// the session's last walk, when the descriptor is let go (so an idle session pins no directory,
// and no mount below the folder). One descriptor per session at most, counted for the whole
// process (handle-budget.ts keptDirsTotal) and never against a user's handles; while all are in
// use, walks start from the root as before.
import { closeSync } from 'node:fs';
import type { HandleQuota } from '../sftp/server/handles.js';
import { fdRealPath } from './proc-fd.js';

/** An unused kept directory is let go after this long. */
export const KEEP_IDLE_MS = 1000;

const DELETED = ' (deleted)';

interface Kept {
  /** Plain components below the root (no links, no dots) the directory was reached by. */
  readonly comps: readonly string[];
  /** The same joined by "/": what the procfs readlink must show below the root. */
  readonly rel: string;
  readonly fd: number;
  /** Walks using the descriptor now: it is closed only when none is. */
  leases: number;
  /** Replaced or dropped: closed once the last lease ends. */
  dropped: boolean;
}

export interface Lease {
  readonly comps: readonly string[];
  readonly fd: number;
  /** The walk is done with the descriptor (call once). */
  end(): void;
}

export class KeptDirectory {
  /** The directory kept, or one dropped that walks still use (then nothing new is kept). */
  private kept: Kept | null = null;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * @param where the jail path of a host path (relative to the root, as comps joined by "/"),
   *   or null when it lies outside the jail
   * @param quota where the kept descriptor is counted; unset: not counted
   */
  constructor(private readonly where: (hostPath: string) => string | null, private readonly quota?: HandleQuota) {}

  /**
   * The kept directory, when `comps` (a client path's components) start with the components it
   * was reached by and name something below it, and it is still there.
   */
  lease(comps: readonly string[]): Lease | null {
    const k = this.kept;
    if (k === null || k.dropped || k.comps.length >= comps.length) return null;
    for (let i = 0; i < k.comps.length; i++) if (comps[i] !== k.comps[i]) return null;
    if (!this.stillThere(k)) {
      this.drop(); // moved, removed or replaced since: the next walk finds what is there now
      return null;
    }
    k.leases++;
    this.idleTimer?.refresh();
    let ended = false;
    return {
      comps: k.comps,
      fd: k.fd,
      end: () => {
        if (ended) return;
        ended = true;
        k.leases--;
        this.closeIfDone(k);
      },
    };
  }

  /**
   * A walk is done with `fd`, the O_PATH descriptor of the directory at `comps` that it opened:
   * kept for the next walk, or closed. The caller must not use or close it afterwards.
   */
  offer(comps: readonly string[], fd: number): void {
    const k = this.kept;
    // Nothing to gain for the root itself, nor while walks still use the one kept (or dropped).
    if (this.closed || comps.length === 0 || (k !== null && k.leases > 0)) {
      closeSync(fd);
      return;
    }
    if (k !== null) {
      closeSync(k.fd); // its quota share passes to the new one
    } else if (this.quota?.take(1)) {
      closeSync(fd); // the process keeps as many as it may: walks start from the root
      return;
    }
    this.kept = { comps: [...comps], rel: comps.join('/'), fd, leases: 0, dropped: false };
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.drop(), KEEP_IDLE_MS).unref();
  }

  /** Let go of the kept directory (session end); nothing is kept afterwards. */
  close(): void {
    this.closed = true;
    this.drop();
  }

  /** At its path still: a readlink that fails (a host path past PATH_MAX) or names a removed directory says no. */
  private stillThere(k: Kept): boolean {
    let host: string;
    try {
      host = fdRealPath(k.fd);
    } catch {
      return false;
    }
    return !host.endsWith(DELETED) && this.where(host) === k.rel;
  }

  private drop(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const k = this.kept;
    if (k === null || k.dropped) return;
    k.dropped = true;
    this.closeIfDone(k);
  }

  private closeIfDone(k: Kept): void {
    if (!k.dropped || k.leases > 0) return;
    closeSync(k.fd);
    this.quota?.give(1);
    if (this.kept === k) this.kept = null;
  }
}
