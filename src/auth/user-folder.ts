// Local mode: each user's folder is one directory directly under sftp_path. Store data names it;
// these helpers refuse any name that could reach outside sftp_path, create what is missing, and
// return the canonical (realpath) folder the SFTP server then serves as `/`.
import { randomBytes } from 'node:crypto';
import { mkdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** NAME_MAX on common file systems. */
const MAX_NAME = 255;

export type FolderResult = { path: string; created: boolean } | { error: string };

/**
 * Why `name` is not acceptable as a folder name relative to sftp_path, or undefined if it is:
 * exactly one path component, not `.`/`..`, no `..` anywhere, no separators, NUL or control characters.
 */
export function folderNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'is not a string';
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_NAME) return `is longer than ${MAX_NAME} characters`;
  if (name === '.') return 'is "."';
  if (path.isAbsolute(name) || name.startsWith('/')) return 'is an absolute path';
  if (name.includes('..')) return 'contains ".."';
  if (/[/\\]/.test(name)) return 'contains a slash or backslash';
  if (name.includes('\0')) return 'contains a NUL character';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'contains control characters';
  if (name.includes('\uFFFD')) return 'is not valid UTF-8';
  return undefined;
}

/**
 * Safe folder names for a user, best first: the user name with characters outside `[A-Za-z0-9._-]`
 * made `_`, runs of dots collapsed and no leading dot; then `<name>-<id>`, `user-<id>` and a
 * random one. The solt store claims the first one no other user holds.
 */
export function folderNameCandidates(userName: string, id: string): string[] {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/\.{2,}/g, '.').replace(/^\.+/, '').slice(0, 100);
  const base = clean(userName);
  const safeId = clean(id).slice(0, 100) || 'x';
  const candidates = base && base !== '_' ? [base, `${base}-${safeId}`] : [];
  candidates.push(`user-${safeId}`, `user-${safeId}-${randomBytes(6).toString('hex')}`);
  return candidates.filter((c) => !folderNameProblem(c));
}

/** True if `p` is strictly inside `root` (both absolute, already resolved). Not fooled by `root` being a name prefix. */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

/**
 * Make sure `<root>/<name>` exists (creating root and folder, mode 0755) and is a real directory
 * there: a symlink is refused, whether it points outside root (for example to a sibling
 * `<root>-other`) or at another user's folder inside it. Root itself may be a symlink (the operator's).
 */
export async function ensureUserFolder(root: string, name: string): Promise<FolderResult> {
  const problem = folderNameProblem(name);
  if (problem) return { error: `folder ${JSON.stringify(name)} ${problem}` };
  let rootReal: string;
  try {
    await mkdir(root, { recursive: true, mode: 0o755 });
    rootReal = await realpath(root);
  } catch (err) {
    return { error: `cannot create sftp path ${root}: ${errText(err)}` };
  }
  const folder = path.join(rootReal, name);
  let created = false;
  try {
    await mkdir(folder, { mode: 0o755 });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { error: `cannot create folder ${folder}: ${errText(err)}` };
  }
  return checkDirectory(folder, created, (real) => {
    if (!isInside(rootReal, real)) return `folder ${folder} resolves to ${real}, outside ${rootReal}`;
    return real === folder ? undefined : `folder ${folder} is a symlink to ${real}: a user's folder must be a real directory`;
  });
}

/**
 * An absolute folder written by the operator (users file): created if missing. No component of
 * its path may be a symlink: the users file is checked for folders inside one another by their
 * paths as written, which only holds if they are the real paths.
 */
export async function ensureAbsoluteFolder(folder: string): Promise<FolderResult> {
  if (!path.isAbsolute(folder) || folder.includes('\0')) return { error: `folder ${JSON.stringify(folder)} is not a usable absolute path` };
  let created = false;
  try {
    created = (await mkdir(folder, { recursive: true, mode: 0o755 })) !== undefined;
  } catch (err) {
    return { error: `cannot create folder ${folder}: ${errText(err)}` };
  }
  const resolved = path.resolve(folder);
  return checkDirectory(folder, created, (real) => real === resolved ? undefined
    : `folder ${folder} resolves to ${real} through a symlink: write the real path in the users file`);
}

async function checkDirectory(folder: string, created: boolean, confine: (real: string) => string | undefined): Promise<FolderResult> {
  let real: string;
  try {
    real = await realpath(folder);
    if (!(await stat(real)).isDirectory()) return { error: `folder ${folder} is not a directory` };
  } catch (err) {
    return { error: `folder ${folder} is unusable: ${errText(err)}` };
  }
  const outside = confine(real);
  return outside ? { error: outside } : { path: real, created };
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}
