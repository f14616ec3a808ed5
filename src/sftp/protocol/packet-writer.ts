// Builds one outgoing SFTP packet: uint32 length, byte type, payload. The buffer grows by
// doubling; finish() fills in the length and returns a view (no final copy).
import type { Attrs } from './attrs.js';
import { attrFlags } from './attrs.js';
import { ATTR } from './constants.js';

const TWO_32 = 0x1_0000_0000;

export class PacketWriter {
  private buf: Buffer;
  private pos = 5;

  constructor(type: number, capacity = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 16));
    this.buf[4] = type;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: number): this {
    this.ensure(8);
    const n = v < 0 ? 0 : v;
    this.buf.writeUInt32BE(Math.floor(n / TWO_32) >>> 0, this.pos);
    this.buf.writeUInt32BE(n >>> 0, this.pos + 4);
    this.pos += 8;
    return this;
  }

  string(s: Buffer | string): this {
    const len = typeof s === 'string' ? Buffer.byteLength(s) : s.length;
    this.ensure(4 + len);
    this.buf.writeUInt32BE(len, this.pos);
    this.pos += 4;
    if (typeof s === 'string') this.buf.write(s, this.pos, 'utf8');
    else s.copy(this.buf, this.pos);
    this.pos += len;
    return this;
  }

  attrs(a: Attrs): this {
    const flags = attrFlags(a);
    this.u32(flags);
    if (flags & ATTR.SIZE) this.u64(a.size!);
    if (flags & ATTR.UIDGID) this.u32(a.uid!).u32(a.gid!);
    if (flags & ATTR.PERMISSIONS) this.u32(a.permissions!);
    if (flags & ATTR.ACMODTIME) this.u32(a.atime!).u32(a.mtime!);
    if (flags & ATTR.EXTENDED) {
      this.u32(a.extended!.length);
      for (const [k, v] of a.extended!) this.string(k).string(v);
    }
    return this;
  }

  finish(): Buffer {
    this.buf.writeUInt32BE(this.pos - 4, 0);
    return this.buf.subarray(0, this.pos);
  }
}
