// Seeded generator of hostile SFTP request packets for the fuzz test: plausible requests with
// random fields, then mutated (truncated, bit-flipped, padded). The request id is never mutated,
// so the test can tell which requests still deserve an answer.
import { FXP } from '../../src/sftp/protocol/constants.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';

/** mulberry32: small, seedable, good enough to vary inputs reproducibly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = [
  '', '.', '/', '..', '../..', '/etc/passwd', '../outside/x', 'a', 'a/b', 'f.txt', 'dir', 'dir/../f.txt',
  'x\\..\\..\\y', 'n\0ul', 'é/ü', '~', '~/f.txt', 'link', 'loop', 'x'.repeat(300), 'a/'.repeat(600), 'new',
];

const EXT_NAMES = [
  'posix-rename@openssh.com', 'statvfs@openssh.com', 'fstatvfs@openssh.com', 'hardlink@openssh.com',
  'fsync@openssh.com', 'lsetstat@openssh.com', 'limits@openssh.com', 'expand-path@openssh.com', 'copy-data',
  'bogus@example.com', '',
];

export class FuzzGen {
  /** Handles the server gave us (some later closed: reuse after close is part of the game). */
  readonly handles: Buffer[] = [];

  constructor(private readonly r: () => number) {}

  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private path(): string {
    return this.r() < 0.8 ? this.pick(PATHS) : Buffer.from(Array.from({ length: this.int(20) }, () => this.int(256))).toString('latin1');
  }

  private handle(): Buffer {
    const roll = this.r();
    if (roll < 0.7 && this.handles.length > 0) return this.pick(this.handles);
    if (roll < 0.85) return Buffer.from([0, 0, 0, this.int(256)]);
    return Buffer.from(Array.from({ length: this.int(10) }, () => this.int(256)));
  }

  private u64(w: PacketWriter): void {
    const roll = this.r();
    if (roll < 0.6) w.u64(this.int(1 << 20));
    else if (roll < 0.8) w.u32(0xffffffff).u32(0xffffffff); // 2^64-1: beyond what we accept
    else w.u64(this.int(2 ** 40));
  }

  private attrs(w: PacketWriter): void {
    const flags = this.r() < 0.8 ? this.int(16) : this.int(2 ** 32);
    w.u32(flags);
    if (flags & 1) this.u64(w);
    if (flags & 2) w.u32(this.int(70000)).u32(this.int(70000));
    if (flags & 4) w.u32(this.int(0o10000));
    if (flags & 8) w.u32(this.int(2 ** 31)).u32(this.int(2 ** 31));
    if (flags & 0x80000000) w.u32(this.int(4)).string('k').string('v');
  }

  /** A request of `type`, well formed unless mutated afterwards. */
  private payload(type: number, w: PacketWriter): void {
    switch (type) {
      case FXP.OPEN: w.string(this.path()).u32(this.int(64)); this.attrs(w); break;
      case FXP.CLOSE: case FXP.FSTAT: case FXP.READDIR: w.string(this.handle()); break;
      case FXP.READ: w.string(this.handle()); this.u64(w); w.u32(this.r() < 0.9 ? this.int(70000) : 0xffffffff); break;
      case FXP.WRITE: w.string(this.handle()); this.u64(w); w.string(Buffer.alloc(this.int(5000), 0x41)); break;
      case FXP.FSETSTAT: w.string(this.handle()); this.attrs(w); break;
      case FXP.SETSTAT: case FXP.MKDIR: w.string(this.path()); this.attrs(w); break;
      case FXP.RENAME: case FXP.SYMLINK: w.string(this.path()).string(this.path()); break;
      case FXP.EXTENDED: {
        const name = this.pick(EXT_NAMES);
        w.string(name);
        if (name === 'copy-data') { w.string(this.handle()); this.u64(w); this.u64(w); w.string(this.handle()); this.u64(w); }
        else if (name.startsWith('f')) w.string(this.handle());
        else if (name === 'lsetstat@openssh.com') { w.string(this.path()); this.attrs(w); }
        else w.string(this.path()).string(this.path());
        break;
      }
      default: {
        if (this.r() < 0.5) w.string(this.path());
        else for (let i = this.int(40); i > 0; i--) w.u8(this.int(256));
      }
    }
  }

  /** Types 3..20 and 200 mostly, sometimes anything except INIT (which ends a session). */
  private type(): number {
    const roll = this.r();
    if (roll < 0.75) return 3 + this.int(18);
    if (roll < 0.9) return FXP.EXTENDED;
    let t = this.int(256);
    if (t === FXP.INIT) t = 0;
    return t;
  }

  /** One packet (with length prefix) carrying request `id`. */
  packet(id: number): Buffer {
    const type = this.type();
    const w = new PacketWriter(type, 64).u32(id);
    this.payload(type, w);
    let body = w.finish().subarray(4); // type, id, payload
    const roll = this.r();
    if (roll < 0.15 && body.length > 5) {
      body = body.subarray(0, 5 + this.int(body.length - 5)); // truncate inside the payload
    } else if (roll < 0.3 && body.length > 5) {
      body = Buffer.from(body);
      for (let i = 1 + this.int(4); i > 0; i--) body[5 + this.int(body.length - 5)] = this.int(256);
    } else if (roll < 0.35) {
      body = Buffer.concat([body, Buffer.alloc(this.int(100), 0xee)]);
    }
    const out = Buffer.allocUnsafe(4 + body.length);
    out.writeUInt32BE(body.length, 0);
    body.copy(out, 4);
    return out;
  }
}
