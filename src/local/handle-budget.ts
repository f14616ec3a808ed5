// How many file descriptors local mode's SFTP handles may hold: per user (across all their
// connections and sessions in this process) and in total. Without it one user could open
// handles until the process ran out of descriptors, and then nobody else could even log in
// (accepting a connection needs one). The total is derived from the process's own "Max open
// files" soft limit, with headroom kept for sockets and the short-lived descriptors of path walks.
import { readFileSync } from 'node:fs';
import type { HandleQuota } from '../sftp/server/handles.js';

/** Descriptors one user's handles may hold in this process (--max-handles-per-user). */
export const DEFAULT_MAX_HANDLES_PER_USER = 1024;

/** Part of the descriptor limit never given to handles (at least MIN_HEADROOM descriptors). */
const HEADROOM_FRACTION = 0.25;
const MIN_HEADROOM = 256;
const MIN_TOTAL = 16;

/** The "Max open files" soft limit from /proc/<pid>/limits text; throws when it has none. */
export function softOpenFilesLimit(limitsText: string): number {
  const m = /^Max open files\s+(\d+)\s/m.exec(limitsText);
  if (!m) throw new Error('no numeric "Max open files" soft limit in /proc/self/limits');
  return Number(m[1]);
}

/** Descriptors handles may hold in total for a process with these limits. */
export function handleBudgetTotal(limitsText: string): number {
  const soft = softOpenFilesLimit(limitsText);
  const headroom = Math.max(MIN_HEADROOM, Math.ceil(soft * HEADROOM_FRACTION));
  return Math.max(soft - headroom, MIN_TOTAL);
}

/** The total for this process (Node raises its soft limit to the hard one at startup). */
export function processHandleBudgetTotal(): number {
  return handleBudgetTotal(readFileSync('/proc/self/limits', 'utf8'));
}

/**
 * Directories kept open between path walks (kept-dir.ts), all sessions together, for a process
 * whose handles may hold `handleTotal`: at most one per session, outside the handle caps (a kept
 * directory never costs a user a handle), so they come out of the headroom: an eighth of the
 * handle total is at most 3/8 of the headroom kept beside it (a quarter of the limit, or 256).
 */
export function keptDirsTotal(handleTotal: number): number {
  return Math.floor(handleTotal / 8);
}

/** Descriptors of one kind counted for the whole process (the kept directories). */
export class ProcessQuota implements HandleQuota {
  private held = 0;

  constructor(readonly total: number) {}

  take(n: number): 'process' | null {
    if (this.held + n > this.total) return 'process';
    this.held += n;
    return null;
  }

  give(n: number): void {
    this.held = Math.max(0, this.held - n);
  }

  room(): number {
    return Math.max(0, this.total - this.held);
  }
}

export interface HandleBudgetOptions {
  perUser: number;
  total: number;
}

export class HandleBudget {
  readonly perUser: number;
  readonly total: number;
  private heldTotal = 0;
  /** Only users holding something are here, so the map is as big as the active users. */
  private readonly byUser = new Map<string, number>();

  constructor(opts: HandleBudgetOptions) {
    this.perUser = opts.perUser;
    this.total = opts.total;
  }

  /** Descriptors held by handles right now, all users together. */
  get held(): number {
    return this.heldTotal;
  }

  /** What one user's sessions draw on. */
  account(user: string): HandleQuota {
    return {
      take: (n) => this.take(user, n),
      give: (n) => this.give(user, n),
      room: () => Math.max(0, Math.min(this.perUser - (this.byUser.get(user) ?? 0), this.total - this.heldTotal)),
    };
  }

  private take(user: string, n: number): 'user' | 'process' | null {
    const mine = this.byUser.get(user) ?? 0;
    if (mine + n > this.perUser) return 'user';
    if (this.heldTotal + n > this.total) return 'process';
    this.byUser.set(user, mine + n);
    this.heldTotal += n;
    return null;
  }

  private give(user: string, n: number): void {
    const left = (this.byUser.get(user) ?? 0) - n;
    if (left > 0) this.byUser.set(user, left);
    else this.byUser.delete(user);
    this.heldTotal = Math.max(0, this.heldTotal - n);
  }
}
