// Applies a route's `home` to a byte-piped SFTP session. SFTP clients learn their start directory
// by asking REALPATH of "." (or ""); turning exactly those requests into REALPATH of `home` makes
// the client start there, without touching any other packet. Packets are framed by their length
// prefix and passed through as slices, so large WRITEs are never buffered whole.
import { Transform, type TransformCallback } from 'node:stream';
import { FXP } from '../sftp/protocol/constants.js';

/** REALPATH packets longer than this are not "." and pass through unread. */
const MAX_INSPECTED = 64;

export class StartDirRewriter extends Transform {
  /** Bytes of the current packet still to pass through untouched. */
  private passing = 0;
  /** Start of a packet header (or a whole small REALPATH) waiting for more bytes. */
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly home: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.passing > 0) {
        const n = Math.min(this.passing, data.length);
        this.push(data.subarray(0, n));
        this.passing -= n;
        data = data.subarray(n);
        continue;
      }
      if (data.length < 5) { this.pending = Buffer.from(data); break; }
      const total = 4 + data.readUInt32BE(0);
      const inspect = data[4] === FXP.REALPATH && total <= MAX_INSPECTED;
      if (!inspect) { this.passing = total; continue; }
      if (data.length < total) { this.pending = Buffer.from(data); break; }
      this.push(this.rewrite(data.subarray(0, total)));
      data = data.subarray(total);
    }
    done();
  }

  /** `packet` is one whole REALPATH request: uint32 length, byte type, uint32 id, string path. */
  private rewrite(packet: Buffer): Buffer {
    if (packet.length < 13) return packet;
    const pathLen = packet.readUInt32BE(9);
    if (13 + pathLen !== packet.length) return packet;
    const path = packet.toString('utf8', 13);
    if (path !== '.' && path !== '') return packet;
    const home = Buffer.from(this.home, 'utf8');
    const out = Buffer.allocUnsafe(13 + home.length);
    out.writeUInt32BE(9 + home.length, 0);
    packet.copy(out, 4, 4, 9); // type and request id
    out.writeUInt32BE(home.length, 9);
    home.copy(out, 13);
    return out;
  }
}
