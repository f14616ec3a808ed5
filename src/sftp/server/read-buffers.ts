// Buffers that READ replies are read into. A READ is read straight into a buffer sized for what
// the client asked (OpenSSH's sftp asks 255 KiB once limits@openssh.com allows it), but a small
// file, or the read that finds the end of a file, fills a few bytes of it. A fresh 255 KiB
// buffer per such reply made a download of 1000 small files spend a third of the server's busy
// time collecting garbage (CPU profile, bench small-files case). Large buffers are therefore
// lent from a small process-wide pool: a reply that filled little of its buffer is copied out
// (cheap at that size) and the buffer goes back; one that filled most of it keeps its buffer,
// so bulk transfers still move file data from the read to the socket without a copy; the session
// hands such a buffer back once its stream has copied the reply out (ssh2 channels do, into the
// SSH packets), so a long download reuses a few buffers instead of allocating one per READ.

/** Requests up to this size get a buffer of their own (Node's allocator handles them well). */
const POOLED_FROM = 64 * 1024;
/** Pooled buffers come in multiples of this, so requests of similar sizes share them. */
const CLASS = 64 * 1024;
/** Buffers kept per size class: a bound on what the pool holds while nothing reads. */
const KEEP_PER_CLASS = 8;

export class ReadBuffers {
  private readonly free = new Map<number, Buffer[]>();
  /** Every buffer the pool made, by its memory: a reply's view finds its whole buffer again. */
  private readonly made = new WeakMap<ArrayBufferLike, Buffer>();

  /** A buffer of at least `size` bytes; hand it to settle() once read into, or to giveBack(). */
  take(size: number): Buffer {
    if (size < POOLED_FROM) return Buffer.allocUnsafe(size);
    const capacity = Math.ceil(size / CLASS) * CLASS;
    const reused = this.free.get(capacity)?.pop();
    if (reused) return reused;
    const buf = Buffer.allocUnsafeSlow(capacity);
    this.made.set(buf.buffer, buf);
    return buf;
  }

  /** Is `b` (or the buffer it is a view of) one of the pool's? */
  lent(b: Buffer): boolean {
    return this.made.has(b.buffer);
  }

  /**
   * The reply's first `used` bytes, in a buffer the caller may keep: `buf` itself when the read
   * filled most of it, otherwise a copy (and `buf` goes back to the pool).
   */
  settle(buf: Buffer, used: number): Buffer {
    if (!this.lent(buf) || used > buf.length / 2) return buf.subarray(0, used);
    const out = Buffer.allocUnsafe(used);
    buf.copy(out, 0, 0, used);
    this.giveBack(buf);
    return out;
  }

  /**
   * Nobody holds `b` (a buffer from take() or a view of one) any more: its buffer may be lent
   * again. Buffers the pool did not make are left to the garbage collector.
   */
  giveBack(b: Buffer): void {
    const whole = this.made.get(b.buffer);
    if (!whole) return;
    let list = this.free.get(whole.length);
    if (!list) this.free.set(whole.length, (list = []));
    if (list.length < KEEP_PER_CLASS) list.push(whole);
  }
}

/** One pool for the process: sessions come and go, the buffers stay few. */
export const readBuffers = new ReadBuffers();
