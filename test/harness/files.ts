/** Random test files and their digests. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Write `bytes` random bytes to `path` (created/truncated), in 1 MiB chunks.
 * Resolves with the sha256 hex digest of what was written.
 */
export async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    let left = bytes;
    while (left > 0) {
      const chunk = randomBytes(Math.min(left, 1024 * 1024));
      hash.update(chunk);
      await fh.write(chunk);
      left -= chunk.length;
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** sha256 hex digest of the file at `path`. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')));
  });
}
