// Two in-memory duplex ends wired to each other, with real backpressure: a write's callback
// waits until the other side has room. (node:stream's duplexPair only arrives in Node 22.)
import { Duplex } from 'node:stream';

class End extends Duplex {
  peer!: End;

  constructor(highWaterMark?: number) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
  }
  private blockedWrite: (() => void) | null = null;

  override _read(): void {
    const cb = this.peer.blockedWrite;
    if (cb) {
      this.peer.blockedWrite = null;
      cb();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.push(chunk)) cb();
    else this.blockedWrite = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }
}

/** `highWaterMark` (both ends, both ways): ssh2's channels use 2 MiB, Node's default is 16 KiB. */
export function duplexPair(highWaterMark?: number): [Duplex, Duplex] {
  const a = new End(highWaterMark);
  const b = new End(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
