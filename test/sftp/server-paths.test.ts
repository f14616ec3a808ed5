// Requests that name paths: STAT/LSTAT/SETSTAT, directories and listings, REMOVE, MKDIR,
// RMDIR, REALPATH, RENAME vs posix-rename, links, statvfs, expand-path.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FX, FXP } from '../../src/sftp/protocol/constants.js';
import { startSession, stopSession, tempDir, type TestSession } from './harness.js';

describe('sftp server: paths', () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestSession;
  const p = (name: string) => join(tmp.path, name);

  beforeEach(async () => {
    tmp = tempDir('sftp-paths-');
    mkdirSync(p('dir/sub'), { recursive: true });
    writeFileSync(p('dir/a.txt'), 'aaaa');
    writeFileSync(p('b.txt'), 'bb');
    symlinkSync('dir/a.txt', p('link-a'));
    t = await startSession(tmp.path);
  });
  afterEach(async () => {
    await stopSession(t);
    tmp.cleanup();
  });

  it('STAT follows links, LSTAT does not', async () => {
    const c = t.client;
    assert.equal((await c.stat('link-a')).attrs!.size, 4);
    const l = await c.lstat('link-a');
    assert.equal(l.attrs!.permissions! & 0o170000, 0o120000);
    assert.equal((await c.stat('/')).attrs!.permissions! & 0o170000, 0o040000);
    assert.equal((await c.stat('missing')).code, FX.NO_SUCH_FILE);
    assert.equal((await c.stat('b.txt/x')).code, FX.NO_SUCH_FILE);
  });

  it('SETSTAT changes size, mode and times, refuses chown', async () => {
    const c = t.client;
    assert.equal((await c.setstat('link-a', { size: 2, permissions: 0o1600, atime: 5, mtime: 7 })).code, FX.OK);
    const s = statSync(p('dir/a.txt'));
    assert.deepEqual([s.size, s.mode & 0o7777, s.mtimeMs], [2, 0o1600, 7000]);
    assert.equal((await c.setstat('b.txt', { uid: 12345, gid: 12345 })).code, FX.PERMISSION_DENIED);
    assert.equal((await c.setstat('nope', { permissions: 0o600 })).code, FX.NO_SUCH_FILE);
  });

  it('lsetstat changes a link itself and never its target', async () => {
    const c = t.client;
    const before = statSync(p('dir/a.txt'));
    const r = await c.extended('lsetstat@openssh.com', (w) => w.string('link-a').attrs({ atime: 11, mtime: 22 }));
    assert.equal(r.code, FX.OK);
    assert.equal(lstatSync(p('link-a')).mtimeMs, 22000);
    assert.equal(statSync(p('dir/a.txt')).mtimeMs, before.mtimeMs);
  });

  it('lists directories in batches with ls -l longnames and lstat attributes', async () => {
    const c = t.client;
    for (let i = 0; i < 230; i++) writeFileSync(p(`dir/sub/f${i}`), 'x'.repeat(i));
    const h = (await c.opendir('dir/sub')).handle!;
    const sizes: number[] = [];
    for (;;) {
      const r = await c.readdir(h);
      if (r.type === FXP.STATUS) {
        assert.equal(r.code, FX.EOF);
        break;
      }
      sizes.push(r.names!.length);
    }
    assert.equal((await c.readdir(h)).code, FX.EOF, 'EOF again after the end');
    await c.close(h);
    assert.equal(sizes.reduce((a, b) => a + b), 230);
    assert.ok(sizes.every((n) => n <= 100) && sizes.length >= 3);

    const top = await c.list('/');
    const names = top.map((e) => e.name).sort();
    assert.deepEqual(names, ['b.txt', 'dir', 'link-a']);
    const b = top.find((e) => e.name === 'b.txt')!;
    assert.match(b.longname, /^-rw-r--r-- {4}1 \d+ +\d+ +2 [A-Z][a-z]{2} [ \d]\d (\d\d:\d\d| \d{4}) b\.txt$/);
    const link = top.find((e) => e.name === 'link-a')!;
    assert.match(link.longname, /^lrwxrwxrwx /);
    assert.equal(link.attrs.permissions! & 0o170000, 0o120000);
    assert.equal((await c.opendir('b.txt')).code, FX.NO_SUCH_FILE); // ENOTDIR, as OpenSSH maps it
  });

  it('MKDIR (0755 or given mode), RMDIR, REMOVE', async () => {
    const c = t.client;
    assert.equal((await c.mkdir('new')).code, FX.OK);
    assert.equal(statSync(p('new')).mode & 0o777, 0o755);
    assert.equal((await c.mkdir('new2', { permissions: 0o700 })).code, FX.OK);
    assert.equal(statSync(p('new2')).mode & 0o777, 0o700);
    assert.equal((await c.mkdir('new')).code, FX.FAILURE);
    assert.equal((await c.rmdir('dir')).code, FX.FAILURE); // not empty
    assert.equal((await c.rmdir('new')).code, FX.OK);
    assert.equal((await c.rmdir('/')).code, FX.FAILURE);
    assert.equal((await c.remove('b.txt')).code, FX.OK);
    assert.equal((await c.remove('b.txt')).code, FX.NO_SUCH_FILE);
    assert.equal((await c.remove('link-a')).code, FX.OK);
    assert.ok(existsSync(p('dir/a.txt')), 'removing a link leaves its target');
    assert.deepEqual([existsSync(p('new')), existsSync(p('b.txt'))], [false, false]);
  });

  it('REALPATH canonicalizes inside the jail and never shows host paths', async () => {
    const c = t.client;
    const real = async (x: string) => (await c.realpath(x)).names![0]!.name;
    assert.equal(await real('.'), '/');
    assert.equal(await real(''), '/');
    assert.equal(await real('../../..'), '/');
    assert.equal(await real('dir/../dir/./sub'), '/dir/sub');
    assert.equal(await real('link-a'), '/dir/a.txt');
    assert.equal(await real('dir/not-yet'), '/dir/not-yet');
    assert.equal((await c.realpath('nope/deeper')).code, FX.NO_SUCH_FILE);
    const ep = async (x: string) => (await c.extended('expand-path@openssh.com', (w) => w.string(x))).names?.[0]?.name;
    assert.equal(await ep('~'), '/');
    assert.equal(await ep('~/dir/../b.txt'), '/b.txt');
    assert.equal(await ep('dir'), '/dir');
    assert.equal((await c.extended('expand-path@openssh.com', (w) => w.string('~root/x'))).code, FX.NO_SUCH_FILE);
  });

  it('RENAME refuses to overwrite; posix-rename overwrites', async () => {
    const c = t.client;
    assert.equal((await c.rename('b.txt', 'dir/a.txt')).code, FX.FAILURE);
    assert.equal(readFileSync(p('dir/a.txt'), 'utf8'), 'aaaa');
    assert.equal((await c.rename('dir/sub', 'dir/a.txt')).code, FX.FAILURE, 'directory onto a file');
    assert.equal((await c.rename('b.txt', 'c.txt')).code, FX.OK);
    assert.equal((await c.rename('dir/sub', 'sub2')).code, FX.OK);
    assert.deepEqual([existsSync(p('b.txt')), readFileSync(p('c.txt'), 'utf8')], [false, 'bb']);
    const pr = await c.extended('posix-rename@openssh.com', (w) => w.string('c.txt').string('dir/a.txt'));
    assert.equal(pr.code, FX.OK);
    assert.equal(readFileSync(p('dir/a.txt'), 'utf8'), 'bb');
    assert.equal((await c.rename('/', 'x')).code, FX.FAILURE);
  });

  it('SYMLINK takes (target, link) like OpenSSH, READLINK returns the stored target', async () => {
    const c = t.client;
    assert.equal((await c.symlink('dir/a.txt', 'mylink')).code, FX.OK);
    assert.equal(readlinkSync(p('mylink')), 'dir/a.txt');
    assert.equal((await c.readlink('mylink')).names![0]!.name, 'dir/a.txt');
    assert.equal((await c.symlink('x', 'b.txt')).code, FX.FAILURE, 'link path exists');
    symlinkSync(p('dir'), p('abs-in'));
    assert.equal((await c.readlink('abs-in')).names![0]!.name, '/dir', 'absolute in-jail target shown as a jail path');
    assert.equal((await c.readlink('b.txt')).code, FX.BAD_MESSAGE); // EINVAL: not a link
  });

  it('hardlink@openssh.com and statvfs@openssh.com', async () => {
    const c = t.client;
    assert.equal((await c.extended('hardlink@openssh.com', (w) => w.string('b.txt').string('hard.txt'))).code, FX.OK);
    assert.equal(statSync(p('hard.txt')).ino, statSync(p('b.txt')).ino);
    const sv = await c.extended('statvfs@openssh.com', (w) => w.string('/dir'));
    assert.equal(sv.type, FXP.EXTENDED_REPLY);
    const r = sv.ext!;
    const [bsize, frsize, blocks, bfree, bavail] = [r.u64(), r.u64(), r.u64(), r.u64(), r.u64()];
    assert.ok(bsize > 0 && frsize > 0 && blocks >= bfree && bfree >= bavail);
    assert.equal((await c.extended('statvfs@openssh.com', (w) => w.string('nope/x'))).code, FX.NO_SUCH_FILE);
  });
});
