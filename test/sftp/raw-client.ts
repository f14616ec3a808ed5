// A minimal SFTP v3 client speaking raw packets through the server's own codec. Tests use it
// instead of OpenSSH's client because that one canonicalizes paths before sending them, and we
// need to send exactly the hostile paths and packets we want.
import type { Duplex } from 'node:stream';
import type { Attrs } from '../../src/sftp/protocol/attrs.js';
import { FX, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketFramer } from '../../src/sftp/protocol/framer.js';
import { PacketReader } from '../../src/sftp/protocol/packet-reader.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';

export interface NameItem {
  /** Decoded as UTF-8, for convenience; nameBytes is what was sent. */
  name: string;
  longname: string;
  nameBytes: Buffer;
  longnameBytes: Buffer;
  attrs: Attrs;
}

/** A path as sent: UTF-8 text, or exact bytes. */
type PathArg = string | Buffer;

export interface Reply {
  type: number;
  id: number;
  /** STATUS replies. */
  code?: number;
  message?: string;
  handle?: Buffer;
  data?: Buffer;
  names?: NameItem[];
  attrs?: Attrs;
  /** EXTENDED_REPLY: reader positioned after the id. */
  ext?: PacketReader;
}

type Build = (w: PacketWriter) => void;

export class RawSftpClient {
  private readonly framer = new PacketFramer(64 * 1024 * 1024);
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private versionWaiter: ((r: PacketReader) => void) | null = null;
  /** Whether the server ended its side of the stream. */
  ended = false;
  readonly endedPromise: Promise<void>;
  version = 0;
  extensions = new Map<string, string>();

  constructor(readonly stream: Duplex) {
    let onEnd!: () => void;
    this.endedPromise = new Promise((r) => (onEnd = r));
    stream.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let f = this.framer.next(); f !== null; f = this.framer.next()) {
        if (f.kind !== 'packet') throw new Error('bad reply length');
        this.onPacket(f.body);
      }
    });
    stream.on('end', () => {
      this.ended = true;
      onEnd();
    });
    stream.on('error', () => undefined);
  }

  static async connect(stream: Duplex): Promise<RawSftpClient> {
    const c = new RawSftpClient(stream);
    await c.init();
    return c;
  }

  async init(): Promise<void> {
    const got = new Promise<PacketReader>((r) => (this.versionWaiter = r));
    this.sendRaw(new PacketWriter(FXP.INIT).u32(3).finish());
    const r = await got;
    this.version = r.u32();
    while (r.remaining > 0) this.extensions.set(r.utf8(), r.utf8());
  }

  private onPacket(body: Buffer): void {
    const type = body[0]!;
    const r = new PacketReader(body, 1);
    if (type === FXP.VERSION) {
      this.versionWaiter?.(r);
      return;
    }
    const id = r.u32();
    const reply: Reply = { type, id };
    switch (type) {
      case FXP.STATUS:
        reply.code = r.u32();
        reply.message = r.utf8();
        break;
      case FXP.HANDLE:
        reply.handle = Buffer.from(r.bytes());
        break;
      case FXP.DATA:
        reply.data = Buffer.from(r.bytes());
        break;
      case FXP.ATTRS:
        reply.attrs = r.attrs();
        break;
      case FXP.NAME: {
        const n = r.u32();
        reply.names = [];
        for (let i = 0; i < n; i++) {
          const nameBytes = Buffer.from(r.bytes());
          const longnameBytes = Buffer.from(r.bytes());
          reply.names.push({ name: nameBytes.toString(), longname: longnameBytes.toString(), nameBytes, longnameBytes, attrs: r.attrs() });
        }
        break;
      }
      case FXP.EXTENDED_REPLY:
        reply.ext = r;
        break;
    }
    const w = this.waiting.get(id);
    if (w) {
      this.waiting.delete(id);
      w(reply);
    }
  }

  sendRaw(buf: Buffer): void {
    this.stream.write(buf);
  }

  /** Send one request with a fresh id; resolves with its reply. */
  request(type: number, build: Build = () => undefined): Promise<Reply> {
    const id = this.nextId++;
    const w = new PacketWriter(type, 64).u32(id);
    build(w);
    return this.requestRaw(id, w.finish());
  }

  /** Send a prebuilt packet and wait for the reply carrying `id`. */
  requestRaw(id: number, packet: Buffer): Promise<Reply> {
    const p = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    this.sendRaw(packet);
    return p;
  }

  get outstanding(): number {
    return this.waiting.size;
  }

  end(): void {
    this.stream.end();
  }

  // Convenience wrappers -------------------------------------------------------------------

  open(path: PathArg, pflags: number, attrs: Attrs = {}): Promise<Reply> {
    return this.request(FXP.OPEN, (w) => w.string(path).u32(pflags).attrs(attrs));
  }
  close(handle: Buffer): Promise<Reply> {
    return this.request(FXP.CLOSE, (w) => w.string(handle));
  }
  read(handle: Buffer, offset: number, len: number): Promise<Reply> {
    return this.request(FXP.READ, (w) => w.string(handle).u64(offset).u32(len));
  }
  write(handle: Buffer, offset: number, data: Buffer): Promise<Reply> {
    return this.request(FXP.WRITE, (w) => w.string(handle).u64(offset).string(data));
  }
  stat(path: PathArg): Promise<Reply> {
    return this.request(FXP.STAT, (w) => w.string(path));
  }
  lstat(path: PathArg): Promise<Reply> {
    return this.request(FXP.LSTAT, (w) => w.string(path));
  }
  fstat(handle: Buffer): Promise<Reply> {
    return this.request(FXP.FSTAT, (w) => w.string(handle));
  }
  setstat(path: PathArg, attrs: Attrs): Promise<Reply> {
    return this.request(FXP.SETSTAT, (w) => w.string(path).attrs(attrs));
  }
  fsetstat(handle: Buffer, attrs: Attrs): Promise<Reply> {
    return this.request(FXP.FSETSTAT, (w) => w.string(handle).attrs(attrs));
  }
  opendir(path: PathArg): Promise<Reply> {
    return this.request(FXP.OPENDIR, (w) => w.string(path));
  }
  readdir(handle: Buffer): Promise<Reply> {
    return this.request(FXP.READDIR, (w) => w.string(handle));
  }
  remove(path: PathArg): Promise<Reply> {
    return this.request(FXP.REMOVE, (w) => w.string(path));
  }
  mkdir(path: PathArg, attrs: Attrs = {}): Promise<Reply> {
    return this.request(FXP.MKDIR, (w) => w.string(path).attrs(attrs));
  }
  rmdir(path: PathArg): Promise<Reply> {
    return this.request(FXP.RMDIR, (w) => w.string(path));
  }
  realpath(path: PathArg): Promise<Reply> {
    return this.request(FXP.REALPATH, (w) => w.string(path));
  }
  rename(from: PathArg, to: PathArg): Promise<Reply> {
    return this.request(FXP.RENAME, (w) => w.string(from).string(to));
  }
  readlink(path: PathArg): Promise<Reply> {
    return this.request(FXP.READLINK, (w) => w.string(path));
  }
  /** OpenSSH order: target first, then the link's path. */
  symlink(target: PathArg, linkPath: PathArg): Promise<Reply> {
    return this.request(FXP.SYMLINK, (w) => w.string(target).string(linkPath));
  }
  extended(name: string, build: Build = () => undefined): Promise<Reply> {
    return this.request(FXP.EXTENDED, (w) => {
      w.string(name);
      build(w);
    });
  }

  /** All entries of a directory (OPENDIR, READDIR until EOF, CLOSE). */
  async list(path: PathArg): Promise<NameItem[]> {
    const h = await this.opendir(path);
    if (!h.handle) throw new Error(`opendir ${path}: ${h.code} ${h.message}`);
    const out: NameItem[] = [];
    for (;;) {
      const r = await this.readdir(h.handle);
      if (r.type === FXP.STATUS) {
        if (r.code !== FX.EOF) throw new Error(`readdir: ${r.code}`);
        break;
      }
      out.push(...r.names!);
    }
    await this.close(h.handle);
    return out;
  }

  /** Whole file content via pipelined READs (throws on anything but data/EOF). */
  async readFile(path: PathArg, chunk = 32 * 1024): Promise<Buffer> {
    const h = await this.open(path, 1);
    if (!h.handle) throw new Error(`open ${path}: ${h.code} ${h.message}`);
    const parts: Buffer[] = [];
    for (let off = 0; ; ) {
      const r = await this.read(h.handle, off, chunk);
      if (r.type === FXP.STATUS) {
        if (r.code !== FX.EOF) throw new Error(`read: ${r.code}`);
        break;
      }
      parts.push(r.data!);
      off += r.data!.length;
    }
    await this.close(h.handle);
    return Buffer.concat(parts);
  }
}
