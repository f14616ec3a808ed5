// One direction of a proxied SFTP session, as a stream that knows where packets start. Each
// packet's first bytes (as many as `headBytes` asks for: a WRITE's header, a small request
// whole) are shown to `onPacket`, which says what becomes of the packet: it passes as the same
// bytes (the rest streams through as it arrives, never buffered whole), is dropped, is replaced,
// or waits (for a probe's answer) while nothing behind it moves. Packets of our own can be slipped
// in between two packets. Backpressure is the stream's: nothing is queued without bound.
//
// Passing bytes leave as slices of the chunk they came in, consecutive ones as one slice: every
// push becomes an SSH channel packet of its own, so a packet's header must not leave alone.
import { Transform, type TransformCallback } from 'node:stream';

export type TapAction =
  | 'pass'
  | 'drop'
  | { replace: Buffer }
  /** Decide later; the stream stops at this packet until then. */
  | { wait: Promise<TapAction> };

export interface TapOptions {
  /** Bytes of the body (type byte onwards) to show onPacket, given the type. */
  headBytes: (type: number) => number;
  onPacket: (head: Buffer, total: number) => TapAction;
  /** A body larger than this breaks the session (no peer of ours sends one). */
  maxPacket: number;
  /** The stream cannot go on (bad length): the caller closes the session. */
  onBroken: (why: string) => void;
}

export class PacketTap extends Transform {
  /** Bytes of the current packet still to pass through / to swallow. */
  private passing = 0;
  private dropping = 0;
  /**
   * The start of a packet that began in an earlier chunk, not yet decided on, kept as the chunks
   * it came in until `carryNeeds` bytes are there (joined once: a head arriving in many small
   * chunks must not be copied again with each one).
   */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private carryNeeds = 0;
  /** Our own packets waiting for a packet boundary, and their bytes. */
  private readonly injected: Buffer[] = [];
  private injectedBytes = 0;
  private broken = false;
  /** onPacket is running: what it injects must follow the bytes before this packet, not yet pushed. */
  private deciding = false;

  /** Those waiting for the backlog to shrink (see drainedTo). */
  private drainWaiters: Array<{ bytes: number; resolve: () => void }> = [];

  constructor(private readonly opts: TapOptions) {
    super();
    this.once('close', () => this.wakeDrainWaiters());
  }

  /** Send `packet` (length prefix included) at the next boundary between packets. */
  inject(packet: Buffer): void {
    if (this.atBoundary() && !this.deciding && this.injected.length === 0) this.push(packet);
    else {
      this.injected.push(packet);
      this.injectedBytes += packet.length;
    }
  }

  /** Bytes pushed or waiting to be, not yet taken by the reader (our own packets included). */
  get backlog(): number {
    return this.readableLength + this.injectedBytes;
  }

  /** Resolves once the backlog is down to `bytes` (or the stream is gone). */
  drainedTo(bytes: number): Promise<void> {
    if (this.backlog <= bytes || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ bytes, resolve }));
  }

  /** The reader wants more (called when what we hold fell below the high-water mark). */
  override _read(size: number): void {
    super._read(size);
    this.wakeDrainWaiters();
  }

  private wakeDrainWaiters(): void {
    if (this.drainWaiters.length === 0) return;
    const still: typeof this.drainWaiters = [];
    for (const w of this.drainWaiters) {
      if (this.backlog <= w.bytes || this.destroyed) w.resolve();
      else still.push(w);
    }
    this.drainWaiters = still;
  }

  private atBoundary(): boolean {
    return this.passing === 0 && this.dropping === 0;
  }

  private flushInjected(): void {
    while (this.injected.length > 0 && this.atBoundary()) {
      const p = this.injected.shift()!;
      this.injectedBytes -= p.length;
      this.push(p);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.carryBytes > 0) {
      this.carry.push(chunk);
      this.carryBytes += chunk.length;
      if (this.carryBytes < this.carryNeeds) return done();
      chunk = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
    }
    this.consume(chunk, 0, done);
  }

  /** Process data[at...]; bytes decided to pass are pushed as one slice per run. */
  private consume(data: Buffer, at: number, done: TransformCallback): void {
    let runStart = at;
    const flushRun = (end: number): void => {
      if (end > runStart) this.push(data.subarray(runStart, end));
      runStart = end;
    };
    while (at < data.length && !this.broken) {
      if (this.passing > 0) {
        const n = Math.min(this.passing, data.length - at);
        this.passing -= n;
        at += n;
        if (this.passing === 0 && this.injected.length > 0) { flushRun(at); this.flushInjected(); }
        continue;
      }
      if (this.dropping > 0) {
        flushRun(at);
        const n = Math.min(this.dropping, data.length - at);
        this.dropping -= n;
        at += n;
        runStart = at;
        if (this.dropping === 0) this.flushInjected();
        continue;
      }
      if (data.length - at < 5) {
        this.carryNeeds = 5;
        break;
      }
      const total = data.readUInt32BE(at);
      if (total < 1 || total > this.opts.maxPacket) {
        flushRun(at);
        this.broken = true;
        this.opts.onBroken(`sftp packet length ${total} out of range`);
        return done();
      }
      const want = Math.min(total, this.opts.headBytes(data[at + 4]!));
      if (data.length - at < 4 + want) {
        this.carryNeeds = 4 + want;
        break;
      }
      const head = data.subarray(at + 4, at + 4 + want);
      let action: TapAction;
      this.deciding = true;
      try {
        action = this.opts.onPacket(head, total);
      } finally {
        this.deciding = false;
      }
      if (action === 'pass') {
        this.passing = total - want;
        at += 4 + want;
        if (this.passing === 0 && this.injected.length > 0) { flushRun(at); this.flushInjected(); }
        continue;
      }
      flushRun(at);
      this.flushInjected(); // what the decision injected (a probe) follows what came before
      const restOfPacket = total - want;
      at += 4 + want;
      if (typeof action === 'object' && 'wait' in action) {
        const resume = (decided: TapAction): void => {
          if (this.destroyed) return done();
          this.applyDecided(decided, data.subarray(at - 4 - want, at), restOfPacket);
          this.consume(data, at, done);
        };
        action.wait.then(resume, () => resume('drop'));
        return; // nothing moves until it is decided
      }
      this.applyDecided(action, undefined, restOfPacket);
      runStart = at;
    }
    flushRun(at);
    if (at < data.length && !this.broken) {
      // A copy: the chunk's other bytes have left, and a slice would keep all of it alive.
      this.carry = [Buffer.from(data.subarray(at))];
      this.carryBytes = data.length - at;
    }
    done();
  }

  /** A packet not simply passed: dropped or replaced (`prefix`: its length and head, for a late pass). */
  private applyDecided(action: TapAction, prefix: Buffer | undefined, restOfPacket: number): void {
    if (action === 'pass' && prefix) {
      this.push(prefix);
      this.passing = restOfPacket;
      if (this.atBoundary()) this.flushInjected();
      return;
    }
    if (typeof action === 'object' && 'replace' in action) this.push(action.replace);
    this.dropping = restOfPacket;
    if (this.atBoundary()) this.flushInjected();
  }
}
