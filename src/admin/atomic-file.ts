// Replacing a file so that a reader (the server watching the users file) sees the old text or the
// new one, never half of it: the new text goes to a temporary file in the same directory, is
// synced, and renamed over the old one. The old file's mode (and owner, where we may) is kept.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** The file's text, or undefined if it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Write `text` to `file` atomically, if the file still holds `expected` (undefined: does not
 * exist); false when it changed since it was read (another writer), and nothing is written.
 */
export async function replaceFile(file: string, text: string, expected: string | undefined): Promise<boolean> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const before = await stat(file).catch(() => undefined);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(text);
      await fh.chmod(before ? before.mode & 0o7777 : 0o644);
      if (before && (before.uid !== process.getuid?.() || before.gid !== process.getgid?.())) {
        await fh.chown(before.uid, before.gid).catch(() => undefined); // only root may; the mode is kept either way
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    // The window between this check and the rename is a few microseconds, not the whole edit.
    if ((await readIfExists(file)) !== expected) {
      await unlink(tmp);
      return false;
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
  return true;
}

/** The rename itself survives a crash only once the directory is synced. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some file systems refuse to sync a directory: the rename is still atomic for readers.
  }
}
