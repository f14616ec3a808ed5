// --idle-timeout: an SFTP session with no traffic either way for that long is closed, and so is a
// logged-in connection left with no SFTP session for that long (as OpenSSH's
// UnusedConnectionTimeout: keepalives alone must not hold a connection forever). Traffic is
// channel data as it crosses the server, not SSH keepalives, and a transfer in progress is
// traffic, so it is never idle. One sweep per process checks everything watched, instead of a
// timer per session re-armed at every packet. The timeout may change while running (SIGHUP): it
// applies to everything watched from then on.
import type { Duplex } from 'node:stream';

/** Something watched: idle since its last touch; `onIdle` runs once when that exceeds the timeout. */
export interface IdleEntry {
  touch(): void;
  /** No longer watched (closed, or in use again). */
  stop(): void;
}

interface Watched {
  last: number;
  onIdle: (idleMs: number) => void;
}

export class IdleWatch {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private timeoutMs: number) {}

  setTimeout(ms: number): void {
    this.timeoutMs = ms;
    clearInterval(this.timer); // the sweep period follows the timeout
    this.timer = undefined;
    this.reschedule();
  }

  /** Watch something idle from now on. */
  entry(onIdle: (idleMs: number) => void): IdleEntry {
    const w: Watched = { last: Date.now(), onIdle };
    this.watched.add(w);
    this.reschedule();
    return {
      touch: () => { w.last = Date.now(); },
      stop: () => { this.watched.delete(w); },
    };
  }

  /** Watch `channel`'s data until it closes; `onIdle` is called once when it went quiet too long. */
  watch(channel: Duplex, onIdle: (idleMs: number) => void): void {
    const e = this.entry(onIdle);
    // Seen without reading: a 'data' listener would start the flow before the backend is ready
    // and lose the client's first packets. Incoming data is what ssh2 push()es into the channel,
    // outgoing what the backend (the proxy's pipe, our SFTP server) write()s to it.
    const push = channel.push.bind(channel);
    channel.push = ((chunk: unknown, encoding?: BufferEncoding) => { e.touch(); return push(chunk, encoding); }) as typeof channel.push;
    const write = channel.write.bind(channel) as (...args: unknown[]) => boolean;
    channel.write = ((...args: unknown[]) => { e.touch(); return write(...args); }) as typeof channel.write;
    channel.once('close', () => e.stop());
  }

  private reschedule(): void {
    const wanted = this.timeoutMs > 0 && this.watched.size > 0;
    if (!wanted) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer) return;
    // A quarter of the timeout (at most 5 s): a session is closed at most 25 % late.
    this.period = Math.max(50, Math.min(5000, this.timeoutMs / 4));
    this.lastSweep = Date.now();
    this.timer = setInterval(() => this.sweep(), this.period);
    this.timer.unref();
  }

  private period = 0;
  private lastSweep = 0;

  private sweep(): void {
    const now = Date.now();
    const late = now - this.lastSweep > 2 * this.period;
    this.lastSweep = now;
    // The event loop stood still (a long GC, an overloaded machine): timers run before sockets
    // are read, so the traffic that came meanwhile is not seen yet. Judge at the next sweep.
    if (late) return;
    for (const w of this.watched) {
      if (now - w.last < this.timeoutMs) continue;
      this.watched.delete(w);
      w.onIdle(now - w.last);
    }
    this.reschedule();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }
}
