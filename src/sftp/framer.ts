// Splits the incoming byte stream into SFTP packets (uint32 length + body). Chunks are kept in
// a list and joined once per packet, and a packet lying inside one chunk is returned as a slice,
// so large WRITE payloads are not copied over and over as 32 KiB channel chunks arrive.

export type Frame =
  | { kind: 'packet'; body: Buffer }
  /** The peer announced a length outside [1, max]: the stream cannot be trusted any more. */
  | { kind: 'bad-length'; length: number };

export class PacketFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPacket: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
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
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!.length >= n ? this.chunks[0]! : this.joinFront(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
