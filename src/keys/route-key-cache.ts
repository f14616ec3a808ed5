// Private keys named by routes (`key` field), read at logins. The path comes from store data, so
// it may name anything: a FIFO (which would block a reader forever), /dev/zero (endless), a huge
// file. Only a regular file of at most MAX_KEY_BYTES is read, asynchronously, opened without
// blocking; the parsed key is kept by path and reused while the file's identity and mtime stay
// the same, so an edit applies to the next login without a read at every login.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parsePrivateKey, type LoadedKey } from './read-private-key.js';

/** An RSA-16384 private key in PEM is about 12 KB. */
const MAX_KEY_BYTES = 64 * 1024;
/** Routes name few key files; a bound keeps hostile data from growing this without end. */
const MAX_CACHED = 256;

interface Cached {
  signature: string;
  key: LoadedKey;
}

export class RouteKeyError extends Error {
  override name = 'RouteKeyError';
}

export class RouteKeyCache {
  private readonly byPath = new Map<string, Cached>();
  /** Public blobs of every route key loaded so far (the loop check refuses them as client keys). */
  readonly publicBlobs = new Set<string>();

  async load(path: string): Promise<LoadedKey> {
    let fh;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      throw new RouteKeyError(`route key ${path}: cannot open it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new RouteKeyError(`route key ${path}: not a regular file`);
      if (st.size > MAX_KEY_BYTES) throw new RouteKeyError(`route key ${path}: ${st.size} bytes, larger than any key (${MAX_KEY_BYTES} at most)`);
      const signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      const cached = this.byPath.get(path);
      if (cached?.signature === signature) return cached.key;
      const pem = Buffer.alloc(st.size);
      const { bytesRead } = await fh.read(pem, 0, st.size, 0);
      const key = parsePrivateKey(path, pem.subarray(0, bytesRead));
      if (typeof key === 'string') throw new RouteKeyError(`route key ${path}: ${key}`);
      if (!this.byPath.has(path) && this.byPath.size >= MAX_CACHED) this.byPath.delete(this.byPath.keys().next().value!);
      this.byPath.set(path, { signature, key });
      this.publicBlobs.add(key.publicBlob.toString('base64'));
      return key;
    } finally {
      await fh.close();
    }
  }
}
