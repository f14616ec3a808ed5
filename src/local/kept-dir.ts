// The directory a session's last path walk ended in, kept open for the next walk. A client's
// requests mostly name files in one directory (put -r, get -r, a directory listing followed by
// a stat of each entry), and each step of a walk is a thread-pool trip: starting from the kept
// directory saves the O_PATH opens of every component up to it, one trip per request for a
// file one level down, more for deeper ones.
//
// The kept descriptor is only used while the kernel still places it at the same path inside the
// jail (a procfs readlink, checked at every use: never a disk call), so a directory renamed,
// removed or swapped for a link since is not used. What follows is the same walk as from the
// root, so a walk from it ends where a walk from the root would. It costs one descriptor per
// session at most, counted for the whole process (handle-budget.ts keptDirsTotal) and never
// against a user's handles; while all are in use, walks start from the root as before.
import { closeSync } from 'node:fs';
import type { HandleQuota } from '../sftp/server/handles.js';
import { fdRealPath } from './proc-fd.js';

interface Kept {
  /** Plain components below the root (no links, no dots) the directory was reached by. */
  readonly comps: readonly string[];
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
  private kept: Kept | null = null;
  private closed = false;

  /**
   * @param where the jail path of a descriptor right now (relative to the root, as comps
   *   joined by "/"), or null when it lies outside the jail
   * @param quota where the kept descriptor is counted; unset: not counted
   */
  constructor(private readonly where: (hostPath: string) => string | null, private readonly quota?: HandleQuota) {}

  /**
   * The kept directory, when `comps` (a client path's components) start with the components it
   * was reached by and name something below it, and it is still there.
   */
  lease(comps: readonly string[]): Lease | null {
    const k = this.kept;
    if (k === null || k.comps.length >= comps.length) return null;
    for (let i = 0; i < k.comps.length; i++) if (comps[i] !== k.comps[i]) return null;
    if (this.where(fdRealPath(k.fd)) !== k.comps.join('/')) {
      this.drop(); // moved, removed or replaced since: the next walk finds what is there now
      return null;
    }
    k.leases++;
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
    // Nothing to gain for the root itself, nor while walks still use the one kept.
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
    this.kept = { comps: [...comps], fd, leases: 0, dropped: false };
  }

  /** Let go of the kept directory (session end); nothing is kept afterwards. */
  close(): void {
    this.closed = true;
    this.drop();
  }

  private drop(): void {
    const k = this.kept;
    if (k === null) return;
    this.kept = null;
    k.dropped = true;
    this.closeIfDone(k);
  }

  private closeIfDone(k: Kept): void {
    if (!k.dropped || k.leases > 0) return;
    closeSync(k.fd);
    this.quota?.give(1);
  }
}
