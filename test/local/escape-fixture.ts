// The world the escape matrix attacks: a jail folder next to secrets it must never reach.
//
//   base/
//     outside/secret.txt          SECRET_SIZE bytes containing MARKER, mode 0640
//     outside/dir/                an empty directory (rmdir target)
//     outside/link-in-outside ->  secret.txt
//     root-evil/secret.txt        the name-prefix sibling of root
//     root/                       the jail ("/" for the client)
//       ok.txt  sub/
//       abs-out -> base/outside            abs-out-file -> base/outside/secret.txt
//       rel-out -> ../outside              sub/inter -> ../../outside
//       dangling-out -> base/outside/created.txt (missing)
//       dangling-dir -> ../outside/newdir (missing)
//       evil -> base/root-evil
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync, chmodSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

export const MARKER = 'SECRET';
export const SECRET_SIZE = 7777;

function secretContent(tag: string): Buffer {
  const unit = Buffer.from(`${tag}-${MARKER}:`);
  const out = Buffer.alloc(SECRET_SIZE);
  for (let i = 0; i < SECRET_SIZE; i += unit.length) unit.copy(out, i);
  return out;
}

export function buildFixture(base: string): string {
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(outside, 'dir'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), secretContent('TOP'));
  chmodSync(join(outside, 'secret.txt'), 0o640);
  symlinkSync('secret.txt', join(outside, 'link-in-outside'));
  mkdirSync(join(base, 'root-evil'));
  writeFileSync(join(base, 'root-evil', 'secret.txt'), secretContent('EVIL'));
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'ok.txt'), 'inside ok');
  symlinkSync(outside, join(root, 'abs-out'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'abs-out-file'));
  symlinkSync('../outside', join(root, 'rel-out'));
  symlinkSync('../../outside', join(root, 'sub', 'inter'));
  symlinkSync(join(outside, 'created.txt'), join(root, 'dangling-out'));
  symlinkSync('../outside/newdir', join(root, 'dangling-dir'));
  symlinkSync(join(base, 'root-evil'), join(root, 'evil'));
  // Fixed times so that any utimes() on an outside object shows up in the snapshot.
  for (const p of [join(outside, 'secret.txt'), join(outside, 'dir'), outside, join(base, 'root-evil')]) {
    utimesSync(p, 1_000_000, 1_000_000);
  }
  return root;
}

/** Everything observable about `dir` except its `skip` child (the jail, which may change). */
export function snapshot(dir: string, skip?: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      if (rel === '' && name === skip) continue;
      const p = join(d, name);
      const st = lstatSync(p);
      let extra = '';
      if (st.isSymbolicLink()) extra = readlinkSync(p);
      else if (st.isFile()) extra = createHash('sha256').update(readFileSync(p)).digest('hex');
      out.push(`${rel}${name} mode=${st.mode.toString(8)} size=${st.size} nlink=${st.nlink} mtime=${st.mtimeMs} ctime=${st.ctimeMs} ${extra}`);
      if (st.isDirectory()) walk(p, `${rel}${name}/`);
    }
  };
  const st = lstatSync(dir);
  out.push(`. mode=${st.mode.toString(8)} mtime=${st.mtimeMs}`);
  walk(dir, '');
  return out;
}

/** Regular files under the jail whose content or size betrays a secret. */
export function leakedIntoJail(root: string): string[] {
  const bad: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && (st.size === SECRET_SIZE || readFileSync(p).includes(MARKER))) bad.push(p);
    }
  };
  walk(root);
  return bad;
}
