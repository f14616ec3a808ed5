// When a login names a user the store does not know, maybe the "added" message was lost: the store
// looks again before refusing. Clients choose the names and the rate, so looking again is limited
// per name (one re-read per name per window, names remembered in bounded memory) and in all (one
// re-read per interval). A login waits for the next re-read that starts after it arrived, if one
// can start soon, so the user whose message was lost still gets in at the first try.
import { setTimeout as sleep } from 'node:timers/promises';
import { RecentNames } from './recent-names.js';

export interface UnknownNameRereadOptions {
  /** At most one re-read per this many ms in all. */
  intervalMs: number;
  /** At most one re-read per name per this many ms. */
  perNameMs: number;
  /** Names remembered for the per-name limit. */
  maxNames: number;
  /** A login waits for the next re-read only if it starts within this long. */
  maxWaitMs: number;
}

export class UnknownNameRereads {
  private readonly recent: RecentNames;
  /** The next re-read, not started yet; and the last one asked for, until it ends. */
  private scheduled: Promise<boolean> | undefined;
  private latest: Promise<boolean> | undefined;
  private lastStart = -Infinity;

  constructor(private readonly reread: () => Promise<boolean>, private readonly opts: UnknownNameRereadOptions) {
    this.recent = new RecentNames(opts.perNameMs, opts.maxNames);
  }

  /** Resolves once the re-read this login may have (if any) is done. Never rejects if `reread` does not. */
  async before(name: string): Promise<void> {
    if (this.recent.has(name)) {
      await this.latest; // a login racing the one that asked for it shares its answer
      return;
    }
    let next = this.scheduled;
    if (!next) {
      const wait = Math.max(0, this.lastStart + this.opts.intervalMs - Date.now());
      if (wait > this.opts.maxWaitMs) return;
      // Always through a timer, even for 0 ms: the callback must run after the assignments below.
      const p = sleep(wait, undefined, { ref: false }).then(() => {
        this.scheduled = undefined;
        this.lastStart = Date.now();
        return this.reread();
      });
      this.scheduled = p;
      this.latest = p;
      void p.finally(() => { if (this.latest === p) this.latest = undefined; });
      next = p;
    }
    this.recent.record(name);
    await next;
  }
}
