// Path resolution inside the jail, done by hand so that `..` and symlinks are interpreted
// relative to the served folder and never by the kernel against the host tree.
//
// - Client paths are relative to the jail's "/": leading "/", "", "." are ignored and ".." at
//   the top stays at the top (like a chroot). Backslash is an ordinary file name character.
// - Symlinks are followed by reading their target and resolving it here. A relative target whose
//   ".." climbs above the jail, or an absolute target that is not inside the jail's host path,
//   is refused with JailError (-> PERMISSION_DENIED); the link is never followed outside.
// - The result is a list of plain components (no symlinks, no dots) as of the moment we looked.
//   It is only a plan: the caller opens it through verified descriptors (confined-fs.ts), which
//   is what actually defeats anyone swapping a component for a symlink after we looked.
import { realpathSync, statSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { errnoError } from '../sftp/status.js';

/** The path would leave the jail. Carries an errno-like code so status mapping stays in one place. */
export class JailError extends Error {
  override name = 'JailError';
  readonly code = 'EJAIL';
  /**
   * @param swapped the plan was inside but the opened object was not: someone swapped a path
   * component for a symlink between our check and our use (an attack, or a very odd workload).
   */
  constructor(readonly swapped = false) {
    super('Permission denied');
  }
}

const MAX_LINKS = 40; // Linux's MAXSYMLINKS
const MAX_PATH = 4096;

export class Jail {
  /** Canonical host path of the served folder (resolved once; the admin's own links are trusted). */
  readonly root: string;
  private readonly prefix: string;

  constructor(root: string) {
    this.root = realpathSync(root);
    if (!statSync(this.root).isDirectory()) throw new Error(`not a directory: ${root}`);
    this.prefix = this.root === '/' ? '/' : `${this.root}/`;
  }

  hostPath(comps: readonly string[]): string {
    return comps.length === 0 ? this.root : this.prefix + comps.join('/');
  }

  /** Is this host path the root or below it? (The trailing "/" rules out "root-evil" siblings.) */
  contains(hostPath: string): boolean {
    return hostPath === this.root || hostPath.startsWith(this.prefix);
  }

  /** Host absolute path -> path relative to the root, or null when outside. */
  relative(hostPath: string): string | null {
    if (hostPath === this.root) return '';
    return hostPath.startsWith(this.prefix) ? hostPath.slice(this.prefix.length) : null;
  }
}

function parts(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

type Pending = [name: string, fromLink: boolean];

function pushPath(stack: Pending[], p: string, fromLink: boolean): void {
  const ps = parts(p);
  for (let i = ps.length - 1; i >= 0; i--) stack.push([ps[i]!, fromLink]);
}

/**
 * Resolve a client path to jail components. The final component may be missing (for create,
 * mkdir, rename targets); a missing or non-directory intermediate component is an error.
 * With followFinal=false a final symlink is returned as itself (lstat semantics).
 */
export async function resolveInJail(jail: Jail, clientPath: string, followFinal: boolean): Promise<string[]> {
  if (clientPath.includes('\0')) throw errnoError('ENOENT', 'No such file');
  if (clientPath.length > MAX_PATH) throw errnoError('ENAMETOOLONG', 'File name too long');
  const stack: Pending[] = [];
  pushPath(stack, clientPath, false);
  let comps: string[] = [];
  let links = 0;
  while (stack.length > 0) {
    const [name, fromLink] = stack.pop()!;
    if (name === '..') {
      if (comps.length > 0) comps.pop();
      else if (fromLink) throw new JailError();
      continue;
    }
    const last = stack.length === 0;
    const host = jail.hostPath([...comps, name]);
    let st;
    try {
      st = await lstat(host);
    } catch (err) {
      if (last && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        comps.push(name);
        break;
      }
      throw err;
    }
    if (st.isSymbolicLink() && (!last || followFinal)) {
      if (++links > MAX_LINKS) throw errnoError('ELOOP', 'Too many levels of symbolic links');
      const target = await readlink(host);
      if (target.startsWith('/')) {
        const rel = jail.relative(target);
        if (rel === null) throw new JailError();
        comps = [];
        pushPath(stack, rel, true);
      } else {
        pushPath(stack, target, true);
      }
      continue;
    }
    if (!last && !st.isDirectory()) throw errnoError('ENOTDIR', 'Not a directory');
    comps.push(name);
  }
  return comps;
}

/**
 * Would following `target`, stored in a link whose parent directory is at `linkDirDepth`
 * components below the root, stay inside the jail? Lexical on purpose: used only to decide
 * whether READLINK may show the target, never to decide access.
 */
export function linkTargetForClient(jail: Jail, linkDirDepth: number, target: string): string | null {
  const absolute = target.startsWith('/');
  const rel = absolute ? jail.relative(target) : target;
  if (rel === null) return null;
  let depth = absolute ? 0 : linkDirDepth;
  for (const p of parts(rel)) {
    depth += p === '..' ? -1 : 1;
    if (depth < 0) return null;
  }
  return absolute ? `/${rel}` : target;
}
