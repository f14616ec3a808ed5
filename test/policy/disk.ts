/** What is on the real disk under a directory, to show that denied requests changed nothing. */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Every entry under `dir` (not following links): type, mode, size, mtime, content hash or link target. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const p = join(dir, r);
      const st = await lstat(p);
      const head = `mode=${(st.mode & 0o7777).toString(8)} mtime=${st.mtimeMs} nlink=${st.nlink}`;
      if (st.isSymbolicLink()) out[r] = `link -> ${await readlink(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${head}`;
        await walk(r);
      } else {
        // Large (or sparse: a WRITE far past the end) files by size alone.
        const sum = st.size <= 16 * 1024 * 1024 ? ` sha256=${createHash('sha256').update(await readFile(p)).digest('hex')}` : '';
        out[r] = `file ${head} size=${st.size}${sum}`;
      }
    }
  };
  await walk('');
  return out;
}
