// Bounds-checked reader over one SFTP packet payload. Every accessor throws PacketError rather
// than reading past the end, so a malformed packet can never crash the session or misparse
// into a neighbouring field. Strings come back as zero-copy slices of the packet buffer.
import { ATTR } from './constants.js';
import type { Attrs } from './attrs.js';

export class PacketError extends Error {
  override name = 'PacketError';
}

const TWO_32 = 0x1_0000_0000;

export class PacketReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw new PacketError('truncated packet');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A uint64 as a JS number; values above 2^53 are refused rather than silently rounded. */
  u64(): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    if (hi >= 0x20_0000) throw new PacketError('uint64 too large');
    return hi * TWO_32 + lo;
  }

  /** A length-prefixed string as a slice of the packet (no copy). */
  bytes(): Buffer {
    const len = this.u32();
    this.need(len);
    const s = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** A length-prefixed string decoded as UTF-8 (paths, extension names). */
  utf8(): string {
    return this.bytes().toString('utf8');
  }

  attrs(): Attrs {
    const flags = this.u32();
    const a: Attrs = {};
    if (flags & ATTR.SIZE) a.size = this.u64();
    if (flags & ATTR.UIDGID) {
      a.uid = this.u32();
      a.gid = this.u32();
    }
    if (flags & ATTR.PERMISSIONS) a.permissions = this.u32();
    if (flags & ATTR.ACMODTIME) {
      a.atime = this.u32();
      a.mtime = this.u32();
    }
    if (flags & ATTR.EXTENDED) {
      const count = this.u32();
      a.extended = [];
      // Each pair is at least 8 bytes, so a huge count fails fast on truncation.
      for (let i = 0; i < count; i++) a.extended.push([this.bytes(), this.bytes()]);
    }
    return a;
  }
}
