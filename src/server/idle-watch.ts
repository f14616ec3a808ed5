// --idle-timeout: an SFTP session with no traffic either way for that long is closed. Traffic is
// channel data, not SSH keepalives (a client's keepalives must not keep an idle session forever),
// and a transfer in progress is traffic, so it is never idle. One sweep per process checks every
// session, instead of a timer per session re-armed at every packet.
import type { Duplex } from 'node:stream';

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

  /** Watch `channel` until it closes; `onIdle` is called once when it went quiet too long. */
  watch(channel: Duplex, onIdle: (idleMs: number) => void): void {
    const w: Watched = { last: Date.now(), onIdle };
    const touch = (): void => { w.last = Date.now(); };
    // Seen without reading: a 'data' listener would start the flow before the backend is ready
    // and lose the client's first packets. Incoming data is what ssh2 push()es into the channel,
    // outgoing what the backend (the proxy's pipe, our SFTP server) write()s to it.
    const push = channel.push.bind(channel);
    channel.push = ((chunk: unknown, encoding?: BufferEncoding) => { touch(); return push(chunk, encoding); }) as typeof channel.push;
    const write = channel.write.bind(channel) as (...args: unknown[]) => boolean;
    channel.write = ((...args: unknown[]) => { touch(); return write(...args); }) as typeof channel.write;
    channel.once('close', () => this.watched.delete(w));
    this.watched.add(w);
    this.reschedule();
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
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(5000, this.timeoutMs / 4)));
    this.timer.unref();
  }

  private sweep(): void {
    const now = Date.now();
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
