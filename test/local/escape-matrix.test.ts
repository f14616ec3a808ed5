// Confinement matrix (in the spirit of SFTPGo's TestOsFsRootEscapeMatrix): every escape route
// crossed with every operation, each on a fresh fixture and session. After each case nothing
// outside the jail may have been read, changed, created or revealed:
// - the tree around the jail (outside/, root-evil/, base itself) is byte-for-byte unchanged,
//   down to nlink, mtime and ctime (so chmod/utimes/link/unlink outside would show);
// - no reply carries secret bytes, the secret's size, an outside file name or a host path;
// - no file inside the jail now holds the secret (hard links, renames, copies).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import type { Reply, RawSftpClient } from '../sftp/raw-client.js';
import { startSession, stopSession, tempDir } from '../sftp/harness.js';
import { MARKER, SECRET_SIZE, buildFixture, leakedIntoJail, snapshot } from './escape-fixture.js';

const { READ, WRITE, CREAT, TRUNC, EXCL } = FXF;

interface Paths {
  /** Names the outside secret file. */
  file: string;
  /** Names an outside directory. */
  dir: string;
  /** Names a not-yet-existing path outside. */
  fresh: string;
}

interface Escape {
  name: string;
  /** How a plain open-for-read must be refused: clamped paths just do not exist in the jail. */
  expect: number;
  paths: (base: string) => Paths;
  setup?: (c: RawSftpClient, base: string) => Promise<unknown>;
}

const DENIED = FX.PERMISSION_DENIED;
const MISSING = FX.NO_SUCH_FILE;

const ESCAPES: Escape[] = [
  {
    name: '../ climbing',
    expect: MISSING,
    paths: () => ({ file: '../outside/secret.txt', dir: '../outside', fresh: '../outside/created.txt' }),
  },
  {
    name: '/../../ absolute climbing',
    expect: MISSING,
    paths: () => ({ file: '/../../../outside/secret.txt', dir: '/../../outside', fresh: '/../../../outside/created.txt' }),
  },
  {
    name: 'host absolute path',
    expect: MISSING,
    paths: (b) => ({ file: `${b}/outside/secret.txt`, dir: `${b}/outside`, fresh: `${b}/outside/created.txt` }),
  },
  {
    name: 'absolute symlink out',
    expect: DENIED,
    paths: () => ({ file: 'abs-out-file', dir: 'abs-out', fresh: 'abs-out/created.txt' }),
  },
  {
    name: 'relative symlink out',
    expect: DENIED,
    paths: () => ({ file: 'rel-out/secret.txt', dir: 'rel-out', fresh: 'rel-out/created.txt' }),
  },
  {
    name: 'symlink in an intermediate component',
    expect: DENIED,
    paths: () => ({ file: 'sub/inter/secret.txt', dir: 'sub/inter/dir', fresh: 'sub/inter/dir/created.txt' }),
  },
  {
    name: 'dangling symlink out',
    expect: DENIED,
    paths: () => ({ file: 'dangling-out', dir: 'dangling-dir', fresh: 'dangling-out' }),
  },
  {
    name: 'sibling with the root as name prefix (via link)',
    expect: DENIED,
    paths: () => ({ file: 'evil/secret.txt', dir: 'evil', fresh: 'evil/created.txt' }),
  },
  {
    name: 'sibling with the root as name prefix (via ..)',
    expect: MISSING,
    paths: () => ({ file: '../root-evil/secret.txt', dir: '../root-evil', fresh: '../root-evil/created.txt' }),
  },
  {
    name: 'backslash separators',
    expect: MISSING,
    paths: () => ({ file: '..\\outside\\secret.txt', dir: '..\\outside', fresh: '..\\..\\outside\\created.txt' }),
  },
  {
    name: 'client-made absolute symlink',
    expect: DENIED,
    setup: (c, b) => Promise.all([c.symlink(`${b}/outside`, 'made'), c.symlink(`${b}/outside/secret.txt`, 'made-file')]),
    paths: () => ({ file: 'made-file', dir: 'made', fresh: 'made/created.txt' }),
  },
  {
    name: 'client-made relative symlink',
    expect: DENIED,
    setup: (c) => c.symlink('../../outside', 'sub/made'),
    paths: () => ({ file: 'sub/made/secret.txt', dir: 'sub/made', fresh: 'sub/made/created.txt' }),
  },
  {
    name: 'client-made chained symlinks',
    expect: DENIED,
    setup: (c) => Promise.all([c.symlink('hop2/..', 'hop1'), c.symlink('..', 'hop2')]),
    paths: () => ({ file: 'hop1/outside/secret.txt', dir: 'hop1/outside', fresh: 'hop1/outside/created.txt' }),
  },
];

type Op = (c: RawSftpClient, p: Paths) => Promise<Reply[]>;

/** Open, and when that (wrongly) succeeds, use the handle the way an attacker would. */
async function openAndUse(c: RawSftpClient, path: string, pflags: number): Promise<Reply[]> {
  const o = await c.open(path, pflags);
  if (!o.handle) return [o];
  const use = pflags & WRITE ? await c.write(o.handle, 0, Buffer.from('PWNED')) : await c.read(o.handle, 0, 65536);
  return [o, use, await c.close(o.handle)];
}

async function listAll(c: RawSftpClient, path: string): Promise<Reply[]> {
  const o = await c.opendir(path);
  if (!o.handle) return [o];
  const out = [o];
  for (let i = 0; i < 50; i++) {
    const r = await c.readdir(o.handle);
    out.push(r);
    if (r.type === FXP.STATUS) break;
  }
  out.push(await c.close(o.handle));
  return out;
}

const ext = (c: RawSftpClient, name: string, ...strings: string[]) =>
  c.extended(name, (w) => strings.forEach((s) => w.string(s)));

const OPS: Record<string, Op> = {
  'open read': (c, p) => openAndUse(c, p.file, READ),
  'open write': (c, p) => openAndUse(c, p.file, WRITE | TRUNC),
  'open create': async (c, p) => [
    ...(await openAndUse(c, p.fresh, WRITE | CREAT | TRUNC)),
    ...(await openAndUse(c, p.fresh, WRITE | CREAT | EXCL)),
  ],
  stat: async (c, p) => [await c.stat(p.file), await c.stat(p.dir)],
  lstat: async (c, p) => [await c.lstat(p.file), await c.lstat(`${p.dir}/secret.txt`), await c.lstat(`${p.dir}/dir`)],
  setstat: async (c, p) => [
    await c.setstat(p.file, { size: 0, permissions: 0o777, atime: 1, mtime: 1 }),
    await c.setstat(p.dir, { permissions: 0o777, atime: 1, mtime: 1 }),
    await c.setstat(`${p.dir}/link-in-outside`, { permissions: 0o777 }),
  ],
  lsetstat: async (c, p) => [
    await c.extended('lsetstat@openssh.com', (w) => w.string(p.file).attrs({ permissions: 0o777, atime: 1, mtime: 1 })),
    await c.extended('lsetstat@openssh.com', (w) => w.string(`${p.dir}/secret.txt`).attrs({ atime: 1, mtime: 1 })),
  ],
  'opendir/readdir': (c, p) => listAll(c, p.dir),
  remove: async (c, p) => [await c.remove(p.file), await c.remove(`${p.dir}/secret.txt`)],
  mkdir: async (c, p) => [await c.mkdir(p.fresh), await c.mkdir(`${p.dir}/newdir`)],
  rmdir: async (c, p) => [await c.rmdir(`${p.dir}/dir`), await c.rmdir(p.dir)],
  'rename from': async (c, p) => [
    await c.rename(p.file, 'stolen.txt'),
    await c.rename(`${p.dir}/secret.txt`, 'stolen2.txt'),
    ...(await openAndUse(c, 'stolen.txt', READ)),
    ...(await openAndUse(c, 'stolen2.txt', READ)),
  ],
  'rename to': async (c, p) => [await c.rename('ok.txt', p.fresh), await c.rename('sub', `${p.dir}/moved`)],
  'posix-rename': async (c, p) => [
    await ext(c, 'posix-rename@openssh.com', 'ok.txt', p.file),
    await ext(c, 'posix-rename@openssh.com', `${p.dir}/secret.txt`, 'stolen.txt'),
    ...(await openAndUse(c, 'stolen.txt', READ)),
  ],
  hardlink: async (c, p) => [
    await ext(c, 'hardlink@openssh.com', p.file, 'hl.txt'),
    await ext(c, 'hardlink@openssh.com', `${p.dir}/secret.txt`, 'hl2.txt'),
    await ext(c, 'hardlink@openssh.com', 'ok.txt', p.fresh),
    ...(await openAndUse(c, 'hl.txt', READ)),
    ...(await openAndUse(c, 'hl2.txt', READ)),
  ],
  'symlink then follow': async (c, p) => [
    await c.symlink(p.file, 'sl'),
    await c.symlink(p.dir, 'sld'),
    ...(await openAndUse(c, 'sl', READ)),
    ...(await openAndUse(c, 'sl', WRITE | TRUNC)),
    ...(await listAll(c, 'sld')),
    ...(await openAndUse(c, 'sld/created.txt', WRITE | CREAT)),
    await c.stat('sld/secret.txt'),
  ],
  readlink: async (c, p) => [
    await c.readlink(p.file),
    await c.readlink(p.dir),
    await c.readlink(`${p.dir}/link-in-outside`),
  ],
  realpath: async (c, p) => [
    await c.realpath(p.file),
    await c.realpath(p.dir),
    await c.realpath(`${p.dir}/secret.txt`),
    await ext(c, 'expand-path@openssh.com', `~/${p.dir}`),
  ],
  'copy-data': async (c, p) => {
    const out: Reply[] = [];
    const src = await c.open(p.file, READ);
    const dst = await c.open('copy.txt', WRITE | CREAT | TRUNC);
    out.push(src, dst);
    if (src.handle) {
      out.push(await c.extended('copy-data', (w) => w.string(src.handle!).u64(0).u64(0).string(dst.handle!).u64(0)));
    }
    const out2 = await c.open(p.fresh, WRITE | CREAT);
    const okSrc = await c.open('ok.txt', READ);
    out.push(out2, okSrc);
    if (out2.handle) {
      out.push(await c.extended('copy-data', (w) => w.string(okSrc.handle!).u64(0).u64(0).string(out2.handle!).u64(0)));
    }
    for (const h of [src, dst, out2, okSrc]) if (h.handle) out.push(await c.close(h.handle));
    return out;
  },
  statvfs: async (c, p) => [await ext(c, 'statvfs@openssh.com', p.dir), await ext(c, 'statvfs@openssh.com', p.file)],
};

/** A reply must not betray anything from outside. */
function assertNothingRevealed(replies: Reply[], base: string, where: string): void {
  for (const r of replies) {
    const what = `${where}: reply ${JSON.stringify({ ...r, data: r.data?.length, ext: undefined })}`;
    if (r.data) assert.ok(!r.data.includes(MARKER), `${what} leaked secret bytes`);
    if (r.attrs) assert.notEqual(r.attrs.size, SECRET_SIZE, `${what} leaked the secret's attributes`);
    if (r.message) assert.ok(!r.message.includes(base), `${what} leaked a host path`);
    for (const n of r.names ?? []) {
      assert.ok(!n.name.includes(base) && !n.longname.includes(base), `${what} leaked a host path`);
      assert.ok(!['secret.txt', 'link-in-outside', 'dir'].includes(n.name), `${what} listed an outside directory`);
      assert.notEqual(n.attrs.size, SECRET_SIZE, `${what} leaked the secret's attributes`);
    }
    if (r.type === FXP.EXTENDED_REPLY && r.ext) {
      // statvfs of an outside path must not be answered at all
      assert.fail(`${what} answered statvfs for an outside path`);
    }
  }
}

for (const esc of ESCAPES) {
  describe(`escape: ${esc.name}`, () => {
    it('is refused with the expected status', async () => {
      const tmp = tempDir('escape-');
      try {
        const root = buildFixture(tmp.path);
        const t = await startSession(root);
        await esc.setup?.(t.client, tmp.path);
        const p = esc.paths(tmp.path);
        assert.equal((await t.client.open(p.file, READ)).code, esc.expect);
        if (esc.expect === DENIED) assert.equal((await t.client.stat(p.dir)).code, DENIED);
        await stopSession(t);
      } finally {
        tmp.cleanup();
      }
    });

    for (const [opName, op] of Object.entries(OPS)) {
      it(opName, async () => {
        const tmp = tempDir('escape-');
        try {
          const root = buildFixture(tmp.path);
          const before = snapshot(tmp.path, 'root');
          const t = await startSession(root);
          await esc.setup?.(t.client, tmp.path);
          const replies = await op(t.client, esc.paths(tmp.path));
          await stopSession(t);
          const where = `${esc.name} / ${opName}`;
          assertNothingRevealed(replies, tmp.path, where);
          assert.deepEqual(snapshot(tmp.path, 'root'), before, `${where}: the outside changed`);
          assert.deepEqual(leakedIntoJail(root), [], `${where}: secret data reached the jail`);
        } finally {
          tmp.cleanup();
        }
      });
    }
  });
}

describe('escape matrix sanity', () => {
  it('the checks catch a real leak (the same operations on the jail itself do succeed)', async () => {
    const tmp = tempDir('escape-');
    try {
      const root = buildFixture(tmp.path);
      const t = await startSession(root);
      // Point "outside" paths at an in-jail copy of the secret: the detectors must fire.
      await t.client.mkdir('outside');
      const h = (await t.client.open('outside/secret.txt', WRITE | CREAT)).handle!;
      await t.client.write(h, 0, Buffer.alloc(SECRET_SIZE, MARKER));
      await t.client.close(h);
      const replies = await OPS['open read']!(t.client, { file: 'outside/secret.txt', dir: 'outside', fresh: 'x' });
      await stopSession(t);
      assert.throws(() => assertNothingRevealed(replies, tmp.path, 'sanity'), /leaked secret bytes/);
      assert.equal(leakedIntoJail(root).length, 1);
    } finally {
      tmp.cleanup();
    }
  });
});
