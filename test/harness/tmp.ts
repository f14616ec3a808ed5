/** Temporary directories under os.tmpdir(). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackDir, untrackDir } from './process-registry.js';

export interface TempDir {
  /** Absolute path of the new directory. */
  path: string;
  /** Remove the directory recursively (idempotent). */
  cleanup(): Promise<void>;
}

/**
 * Create a fresh directory `os.tmpdir()/<prefix>XXXXXX`. It is also removed by
 * the process-exit safety net if `cleanup()` is never called. Set
 * HARNESS_KEEP_TMP=1 to keep directories for debugging.
 */
export async function makeTempDir(prefix = 'pysftpproxy-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const keep = process.env.HARNESS_KEEP_TMP === '1';
  if (!keep) trackDir(path);
  return {
    path,
    async cleanup() {
      untrackDir(path);
      if (!keep) await rm(path, { recursive: true, force: true });
    },
  };
}
