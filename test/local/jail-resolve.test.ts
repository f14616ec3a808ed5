// Unit tests of path resolution inside the jail (resolveInJail), fd verification, and the walk's descriptors.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfinedFs } from '../../src/local/confined-fs.js';
import { ProcessQuota } from '../../src/local/handle-budget.js';
import { Jail, JailError, linkTargetForClient, releaseResolved, resolveInJail } from '../../src/local/jail-resolve.js';
import { tempDir } from '../sftp/harness.js';

describe('resolveInJail', () => {
  const tmp = tempDir('jail-resolve-');
  const root = join(tmp.path, 'root');
  let jail: Jail;

  before(() => {
    mkdirSync(join(root, 'a/b'), { recursive: true });
    mkdirSync(join(tmp.path, 'root-evil'));
    writeFileSync(join(root, 'a/file'), 'x');
    symlinkSync('b', join(root, 'a/to-b'));
    symlinkSync('../a/b', join(root, 'a/up-and-back'));
    symlinkSync(join(root, 'a'), join(root, 'abs-in'));
    symlinkSync(join(tmp.path, 'root-evil'), join(root, 'abs-sibling'));
    symlinkSync('/etc', join(root, 'abs-out'));
    symlinkSync('../../..', join(root, 'a/rel-out'));
    symlinkSync(`${root}/../root/a`, join(root, 'abs-dotdot'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    jail = new Jail(root);
  });
  after(() => {
    jail.close(); // its kept directory too: let go later by its idle timer, it would upset the descriptor counts below
    tmp.cleanup();
  });

  const ok = async (p: string, want: string[], follow = true) => {
    const r = await resolveInJail(jail, p, follow);
    releaseResolved(r);
    assert.deepEqual(r.comps, want, p);
    // A path ending by going up is the directory itself (pinned, no name); else the final name.
    const up = /(^|\/)\.\.\/?$/.test(p) || p === 'a/to-b/..';
    assert.equal(r.name, up || want.length === 0 ? null : want[want.length - 1], p);
  };
  const escapes = (p: string, follow = true) => assert.rejects(resolveInJail(jail, p, follow), JailError, p);
  const fails = (p: string, code: string) => assert.rejects(resolveInJail(jail, p, true), { code }, p);

  it('treats the jail as "/" and clamps client ".." at the top', async () => {
    for (const p of ['', '.', '/', '//', '..', '/../../..', './././']) await ok(p, []);
    await ok('/a/../a/./b', ['a', 'b']);
    await ok('../../a', ['a']);
    await ok('a\\..\\..', ['a\\..\\..']); // backslash is just a character: a missing final name
  });

  it('follows links that stay inside, relative or absolute', async () => {
    await ok('a/to-b', ['a', 'b']);
    await ok('a/up-and-back', ['a', 'b']);
    await ok('abs-in/to-b', ['a', 'b']);
    await ok('a/to-b/..', ['a']); // ".." is physical: from the link's target
  });

  it('returns a final link itself when not following', async () => {
    await ok('abs-out', ['abs-out'], false);
    await ok('a/rel-out', ['a', 'rel-out'], false);
  });

  it('refuses links that leave the jail, in any component', async () => {
    await escapes('abs-out');
    await escapes('abs-out/passwd');
    await escapes('abs-out/passwd', false);
    await escapes('abs-sibling'); // "<root>-evil" starts with "<root>" but is outside
    await escapes('a/rel-out');
    await escapes('a/rel-out/x', false);
    await escapes('abs-dotdot');
  });

  it('reports missing, non-directory and looping paths like the kernel', async () => {
    await ok('a/missing', ['a', 'missing']);
    await fails('missing/x', 'ENOENT');
    await fails('a/file/x', 'ENOTDIR');
    await fails('loop1', 'ELOOP');
    await fails('bad\0name', 'ENOENT');
    await fails('x'.repeat(5000), 'ENAMETOOLONG');
  });
});

describe('linkTargetForClient', () => {
  const tmp = tempDir('jail-target-');
  after(() => tmp.cleanup());

  it('shows in-jail targets (absolute ones as jail paths) and hides escapes', () => {
    const jail = new Jail(tmp.path);
    assert.equal(linkTargetForClient(jail, 0, 'a/b'), 'a/b');
    assert.equal(linkTargetForClient(jail, 1, '../x'), '../x');
    assert.equal(linkTargetForClient(jail, 0, '../x'), null);
    assert.equal(linkTargetForClient(jail, 2, 'a/../../../..'), null);
    assert.equal(linkTargetForClient(jail, 0, `${tmp.path}/d/e`), '/d/e');
    assert.equal(linkTargetForClient(jail, 0, `${tmp.path}/../x`), null);
    assert.equal(linkTargetForClient(jail, 0, '/etc/passwd'), null);
    assert.equal(linkTargetForClient(jail, 0, `${tmp.path}-evil/x`), null);
  });
});

describe('ConfinedFs.verifyFd', () => {
  const tmp = tempDir('jail-verify-');
  after(() => tmp.cleanup());

  it('accepts fds inside the root and rejects the parent and a prefix sibling', () => {
    const root = join(tmp.path, 'root');
    mkdirSync(join(root, 'd'), { recursive: true });
    mkdirSync(`${root}-evil`);
    const cfs = new ConfinedFs(root);
    for (const [p, inside] of [
      [root, true],
      [join(root, 'd'), true],
      [tmp.path, false],
      [`${root}-evil`, false],
    ] as const) {
      const fd = openSync(p, 'r');
      try {
        if (inside) cfs.verifyFd(fd);
        else assert.throws(() => cfs.verifyFd(fd), JailError, p);
      } finally {
        closeSync(fd);
      }
    }
  });
});

describe('descriptors held by the walk', () => {
  const tmp = tempDir('jail-fds-');
  after(() => tmp.cleanup());

  it('are all closed again, whatever the path leads to (found, missing, escaping, looping)', async () => {
    const root = join(tmp.path, 'root');
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    writeFileSync(join(root, 'a/b/f'), 'x');
    symlinkSync('/etc', join(root, 'out'));
    symlinkSync('../b', join(root, 'a/b/up'));
    symlinkSync('l2', join(root, 'l1'));
    symlinkSync('l1', join(root, 'l2'));
    const kept = new ProcessQuota(1); // counts the one directory the session may keep
    const cfs = new ConfinedFs(root, undefined, kept);
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const paths = ['a/b/f', 'a/b/up/up/f', 'out/passwd', 'a/b/c/../../b/f', 'missing/x', 'a/b/f/x', 'l1', 'a/b/c/..', '..', '/', 'a/b/nope'];
    const quiet = () => undefined;
    for (let i = 0; i < 20; i++) {
      for (const p of paths) {
        await cfs.stat(p, true).catch(quiet);
        await cfs.stat(p, false).catch(quiet);
        await cfs.realpath(p).catch(quiet);
        await cfs.openFd(p, 0, 0).then(closeSync, quiet);
        await cfs.readlink(p).catch(quiet);
        await cfs.mkdir(`${p}-d`, 0o755).catch(quiet);
        await cfs.rmdir(`${p}-d`).catch(quiet);
        await cfs.opendir(p).then((d) => d.close(), quiet);
      }
    }
    assert.equal(open() - before, kept.total - kept.room(), 'descriptors left open: the kept directory, if any');
    cfs.close();
    assert.equal(open(), before - 1, 'close() lets go of the folder\'s own descriptor and the kept directory');
    await assert.rejects(cfs.stat('a', true), { code: 'EBADF' }, 'a closed jail refuses to walk');
  });
});

describe('paths that end by going up, and deep paths', () => {
  const tmp = tempDir('jail-up-');
  after(() => tmp.cleanup());

  it('a path ending in ".." (typed or from a link) is that directory, and cannot be renamed or removed', async () => {
    const root = join(tmp.path, 'root');
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    symlinkSync('..', join(root, 'a/b/up'));
    symlinkSync('a/b/up', join(root, 'chain'));
    const cfs = new ConfinedFs(root);
    const aIno = (await cfs.stat('a', true)).ino;
    for (const p of ['a/b/..', 'a/b/c/../..', 'a/b/up', 'chain']) {
      const st = await cfs.stat(p, true);
      assert.ok(st.isDirectory(), p);
      assert.equal(st.ino, aIno, `${p} is a`);
      assert.equal((await cfs.realpath(p)).toString(), '/a', p);
    }
    await assert.rejects(cfs.rename('a/b/..', 'moved'), { code: 'EBUSY' });
    await assert.rejects(cfs.rmdir('a/b/..'), { code: 'EBUSY' });
    await assert.rejects(cfs.remove('a/..'), { code: 'EISDIR' });
    await assert.rejects(cfs.mkdir('a/b/..', 0o755), { code: 'EEXIST' });
    assert.ok((await cfs.stat('a/b', true)).isDirectory(), 'nothing was renamed or removed');
    const d = await cfs.opendir('a/b/c/..');
    const names: string[] = [];
    for (let batch = await d.next(100); batch !== null; batch = await d.next(100)) names.push(...batch.map((e) => e.name.toString()));
    await d.close();
    assert.deepEqual(names.sort(), ['c', 'up'], 'opendir of "a/b/c/.." lists a/b');
    cfs.close();
  });

  it('holds one directory descriptor per walk, however deep the path', async () => {
    const root = join(tmp.path, 'deep');
    const deep = Array.from({ length: 1000 }, () => 'd').join('/');
    mkdirSync(join(root, deep), { recursive: true });
    const kept = new ProcessQuota(1);
    const cfs = new ConfinedFs(root, undefined, kept);
    const count = () => readdirSync('/proc/self/fd').length;
    const before = count();
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, count()); }, 1);
    try {
      const results = await Promise.all(Array.from({ length: 8 }, () => cfs.realpath(`${deep}/../x`)));
      assert.ok(results.every((r) => r.toString() === `/${Array.from({ length: 999 }, () => 'd').join('/')}/x`));
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak - before <= 8 * 3 + 1, `up to ${peak - before} descriptors open at once for 8 walks 1000 levels deep`);
    assert.equal(count() - before, kept.total - kept.room(), 'only the kept directory, if any, stays open');
    cfs.close();
  });
});
