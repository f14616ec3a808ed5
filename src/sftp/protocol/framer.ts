// Splits the incoming byte stream into SFTP packets (uint32 length + body). Chunks are kept in
// a list and joined once per packet, and a packet lying inside one chunk is returned as a slice,
// so large WRITE payloads are not copied over and over as 32 KiB channel chunks arrive. Small
// chunks are copied together instead: a client sending one byte per SSH message would otherwise
// make us keep a Buffer (about 200 bytes of memory) for every byte of a packet still incomplete.

export type Frame =
  | { kind: 'packet'; body: Buffer }
  /** The peer announced a length outside [1, max]: the stream cannot be trusted any more. */
  | { kind: 'bad-length'; length: number };

/** Chunks below this size are copied into a shared buffer rather than kept as they are. */
const SMALL_CHUNK = 1024;
const SPARE_SIZE = 16 * 1024;

export class PacketFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Where small chunks are copied; the last chunk is a view of it while `appending`. */
  private spare = Buffer.alloc(0);
  private spareStart = 0;
  private spareUsed = 0;
  private appending = false;

  constructor(private readonly maxPacket: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Buffers held for the bytes not yet framed (tests). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buffered += chunk.length;
    if (chunk.length >= SMALL_CHUNK) {
      this.appending = false;
      this.chunks.push(chunk);
      return;
    }
    if (this.spareUsed + chunk.length > this.spare.length) {
      this.spare = Buffer.allocUnsafe(SPARE_SIZE);
      this.spareUsed = 0;
      this.appending = false;
    }
    if (!this.appending) {
      this.spareStart = this.spareUsed;
      this.chunks.push(this.spare.subarray(this.spareStart, this.spareStart));
      this.appending = true;
    }
    chunk.copy(this.spare, this.spareUsed);
    this.spareUsed += chunk.length;
    this.chunks[this.chunks.length - 1] = this.spare.subarray(this.spareStart, this.spareUsed);
  }

  /** Next complete packet, or null when more bytes are needed. */
  next(): Frame | null {
    if (this.buffered < 4) return null;
    const length = this.peekLength();
    if (length < 1 || length > this.maxPacket) return { kind: 'bad-length', length };
    if (this.buffered < 4 + length) return null;
    return { kind: 'packet', body: this.take(4 + length).subarray(4) };
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return this.joinFront(4).readUInt32BE(0);
  }

  /** Merge leading chunks until the first one holds at least n bytes. */
  private joinFront(n: number): Buffer {
    let count = 0;
    let len = 0;
    while (len < n) len += this.chunks[count++]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, count), len);
    this.chunks.splice(0, count, joined);
    this.appending = false; // the last chunk may be the joined copy now, no view of the spare
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!.length >= n ? this.chunks[0]! : this.joinFront(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.appending = false;
    this.buffered -= n;
    return out;
  }
}
