// How many bytes of READ replies one session may hold: reads issued but whose replies have not
// yet left its stream's buffer for the SSH channel. The request count alone bounded nothing
// useful (64 reads of 256 KiB are 16 MiB per session, and a client that stops reading its
// replies makes us keep them all), so a READ waits here before it touches the disk until the
// held bytes plus its own fit in the limit, and goes on when output drains.
//
// The limit is what the SSH window (2 MiB) can take next, so a client that reads its replies
// does not wait here: the channel is the bottleneck then (OpenSSH's sftp pipelines 64 reads of
// 255 KiB, 16 MiB, once limits@openssh.com allows them; downloads were as fast with it as without).

import { errnoError } from './status.js';

/** Default bytes of read replies held per session. */
export const DEFAULT_READ_BUDGET = 2 * 1024 * 1024;

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

function cancelled(): Error {
  return errnoError('ECANCELED', 'Operation canceled');
}

export class ReadBudget {
  private reserved = 0;
  private readonly waiters: Waiter[] = [];
  private wakeScheduled = false;

  /**
   * @param limit bytes held at most (one read may always run when nothing else is held)
   * @param buffered bytes of replies written but still in the session's stream
   * @param ended rejects the waiting reads when the session ends
   */
  constructor(
    private readonly limit: number,
    private readonly buffered: () => number,
    private readonly ended: AbortSignal,
  ) {
    ended.addEventListener('abort', () => {
      for (const w of this.waiters.splice(0)) w.reject(cancelled());
    }, { once: true });
  }

  /** Bytes reserved by reads under way (tests, metrics). */
  get held(): number {
    return this.reserved;
  }

  /** Wait until `n` more bytes may be held, and hold them. */
  acquire(n: number): Promise<void> {
    if (this.ended.aborted) return Promise.reject(cancelled());
    if (this.waiters.length === 0 && this.fits(n)) {
      this.reserved += n;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve, reject }));
  }

  /**
   * The read holding `n` bytes is done. Called just before its reply is written, so waiters are
   * woken a turn later, when that reply already counts in `buffered`.
   */
  release(n: number): void {
    this.reserved -= n;
    this.wake();
  }

  /** Output has left the stream: there may be room now. */
  wake(): void {
    if (this.wakeScheduled || this.waiters.length === 0) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      while (this.waiters.length > 0 && this.fits(this.waiters[0]!.n)) {
        const w = this.waiters.shift()!;
        this.reserved += w.n;
        w.resolve();
      }
    });
  }

  private fits(n: number): boolean {
    const held = this.reserved + this.buffered();
    return held === 0 || held + n <= this.limit;
  }
}
