// One direction of a delayed TCP link: every chunk read from `src` is written to `dst` `delayMs`
// after it arrived, in arrival order (a constant delay keeps the order). netem is not available in
// these containers; this is the userspace stand-in the latency case puts on the client's leg.
// Memory is bounded: the source is paused while more than `maxHeldBytes` are in the line (a path
// holds at most its bandwidth-delay product) or while dst's socket does not take more.
import type { Socket } from 'node:net';

interface Held {
  due: number;
  /** null: the source ended here (EOF travels with the same delay). */
  chunk: Buffer | null;
}

export class DelayLine {
  private readonly held: Held[] = [];
  private head = 0;
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;

  constructor(private readonly src: Socket, private readonly dst: Socket, private readonly delayMs: number,
      private readonly maxHeldBytes = 64 * 1024 * 1024) {
    src.on('data', (chunk: Buffer) => this.arrive(chunk));
    src.on('end', () => this.arrive(null));
    dst.on('drain', () => this.maybeResume());
  }

  private arrive(chunk: Buffer | null): void {
    if (this.delayMs <= 0 && this.head === this.held.length) {
      this.deliver(chunk); // no delay: a plain pump, so the no-delay check measures the copying alone
    } else {
      this.held.push({ due: performance.now() + this.delayMs, chunk });
      if (chunk) this.heldBytes += chunk.length;
      this.schedule();
    }
    if (!this.paused && (this.heldBytes > this.maxHeldBytes || this.dst.writableNeedDrain)) {
      this.paused = true;
      this.src.pause();
    }
  }

  private deliver(chunk: Buffer | null): void {
    if (this.dst.destroyed) return;
    if (chunk === null) this.dst.end();
    else this.dst.write(chunk);
  }

  private schedule(): void {
    if (this.timer || this.head === this.held.length) return;
    const wait = Math.max(0, this.held[this.head]!.due - performance.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    // setTimeout fires up to ~1 ms late; everything due by now leaves in this turn.
    while (this.head < this.held.length && this.held[this.head]!.due <= now) {
      const h = this.held[this.head++]!;
      if (h.chunk) this.heldBytes -= h.chunk.length;
      this.deliver(h.chunk);
    }
    if (this.head === this.held.length) {
      this.held.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.held.splice(0, this.head);
      this.head = 0;
    }
    this.maybeResume();
    this.schedule();
  }

  private maybeResume(): void {
    if (this.paused && this.heldBytes <= this.maxHeldBytes / 2 && !this.dst.writableNeedDrain) {
      this.paused = false;
      this.src.resume();
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
