// The directory a walk ended in is kept for the next walk (src/local/kept-dir.ts): a walk that
// starts there must end where a walk from the root would, whatever happened to the directory
// since (renamed, replaced by another, by a link, moved out of the folder, removed), and the
// kept descriptors are bounded (one per session, a total for the process) and let go when the
// session idles or ends.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfinedFs } from '../../src/local/confined-fs.js';
import { ProcessQuota } from '../../src/local/handle-budget.js';
import { KEEP_IDLE_MS } from '../../src/local/kept-dir.js';
import { tempDir } from '../sftp/harness.js';

const openFds = () => readdirSync('/proc/self/fd').length;

async function readAll(cfs: ConfinedFs, p: string): Promise<string> {
  const file = await cfs.open(p, { read: true, write: false, append: false, create: false, truncate: false, exclusive: false }, 0);
  try {
    const buf = Buffer.alloc(64);
    const n = await file.read(buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString();
  } finally {
    await file.close();
  }
}

describe('the kept directory', () => {
  const tmp = tempDir('kept-dir-');
  after(() => tmp.cleanup());
  let n = 0;
  const fresh = (): { root: string; outside: string } => {
    const base = join(tmp.path, `case${n++}`);
    const root = join(base, 'root');
    mkdirSync(join(root, 'd/sub'), { recursive: true });
    writeFileSync(join(root, 'd/f'), 'old');
    mkdirSync(join(root, 'e'));
    writeFileSync(join(root, 'e/f'), 'in e');
    mkdirSync(join(base, 'outside'));
    return { root, outside: join(base, 'outside') };
  };

  it('is counted: one per session, none beyond the process total', async () => {
    const { root } = fresh();
    const quota = new ProcessQuota(1);
    const one = new ConfinedFs(root, undefined, quota);
    const two = new ConfinedFs(root, undefined, quota);
    const before = openFds();
    assert.equal(await readAll(one, 'd/f'), 'old');
    assert.equal(quota.room(), 0, 'the first session keeps d');
    assert.equal(openFds(), before + 1);
    for (const p of ['e/f', 'd/sub/x', 'd/f']) await one.stat(p, false).catch(() => undefined);
    assert.equal(openFds(), before + 1, 'a session keeps one directory, replacing it as it walks elsewhere');
    assert.equal(await readAll(two, 'd/f'), 'old');
    assert.equal(openFds(), before + 1, 'the second keeps nothing: the total is used up');
    one.close();
    assert.equal(quota.room(), 1, 'session end gives the kept descriptor back');
    await two.stat('e/f', false);
    assert.equal(quota.room(), 0, 'and the next walk may keep one');
    two.close();
    assert.equal(openFds(), before - 2, 'every descriptor is closed (both folders, the kept directory)');
    assert.equal(quota.room(), 1);
  });

  it('is not used once the name leads elsewhere: renamed, replaced, a link, moved out, removed', async () => {
    const { root, outside } = fresh();
    const cfs = new ConfinedFs(root, undefined, new ProcessQuota(1));
    try {
      assert.equal(await readAll(cfs, 'd/f'), 'old'); // d is kept now
      renameSync(join(root, 'd'), join(root, 'd-old'));
      mkdirSync(join(root, 'd'));
      writeFileSync(join(root, 'd/f'), 'new');
      assert.equal(await readAll(cfs, 'd/f'), 'new', 'a new directory of the same name');
      assert.equal(await readAll(cfs, 'd-old/f'), 'old', 'the old one under its new name');

      rmSync(join(root, 'd'), { recursive: true }); // the kept one (the last walk ended in d-old)
      symlinkSync('e', join(root, 'd'));
      assert.equal(await readAll(cfs, 'd-old/f'), 'old');
      renameSync(join(root, 'd-old'), join(root, 'gone'));
      symlinkSync('e', join(root, 'd-old'));
      assert.equal(await readAll(cfs, 'd-old/f'), 'in e', 'replaced by a link: followed as any link');
      assert.equal(await readAll(cfs, 'd/f'), 'in e');

      assert.equal(await readAll(cfs, 'gone/f'), 'old'); // gone is kept
      renameSync(join(root, 'gone'), join(outside, 'gone'));
      await assert.rejects(cfs.stat('gone/f', false), { code: 'ENOENT' }, 'moved out of the folder: not reached');
      await assert.rejects(readAll(cfs, 'gone/f'), { code: 'ENOENT' });
      assert.equal(readFileSync(join(outside, 'gone/f'), 'utf8'), 'old');

      assert.equal(await readAll(cfs, 'e/f'), 'in e'); // e is kept
      rmSync(join(root, 'e'), { recursive: true });
      await assert.rejects(cfs.stat('e/f', false), { code: 'ENOENT' }, 'removed: not reached');
      mkdirSync(join(root, 'e'));
      writeFileSync(join(root, 'e/f'), 'e again');
      assert.equal(await readAll(cfs, 'e/f'), 'e again');
    } finally {
      cfs.close();
    }
  });

  it('serves walks side by side, down and up from it, and closes each descriptor once', async () => {
    const { root } = fresh();
    for (let i = 0; i < 5; i++) {
      mkdirSync(join(root, `p${i}/q`), { recursive: true });
      writeFileSync(join(root, `p${i}/q/f`), `p${i}`);
    }
    const quota = new ProcessQuota(4);
    const cfs = new ConfinedFs(root, undefined, quota);
    const before = openFds();
    try {
      for (let round = 0; round < 20; round++) {
        const got = await Promise.all(Array.from({ length: 25 }, (_, k) => {
          const i = k % 5;
          const path = [`p${i}/q/f`, `p${i}/q/../q/f`, `p${i}/../p${i}/q/f`][k % 3]!;
          return readAll(cfs, path).then((text) => [text, `p${i}`]);
        }));
        for (const [text, want] of got) assert.equal(text, want);
        assert.equal((await cfs.realpath(`p${round % 5}/q/..`)).toString(), `/p${round % 5}`);
      }
      assert.equal(openFds() - before, quota.total - quota.room(), 'descriptors still open: the kept directory, if any');
    } finally {
      cfs.close();
    }
    assert.equal(openFds(), before - 1);
  });
  it('is never a removed directory, even one whose name ends in " (deleted)"', async () => {
    // procfs names a removed directory "<path> (deleted)": the same text as a live one so named.
    const { root } = fresh();
    const cfs = new ConfinedFs(root, undefined, new ProcessQuota(1));
    try {
      await assert.rejects(cfs.stat('q (deleted)/x', false), { code: 'ENOENT' });
      await cfs.mkdir('q (deleted)', 0o755);
      await assert.rejects(cfs.stat('q (deleted)/x', false), { code: 'ENOENT' }); // kept now
      await cfs.posixRename('q (deleted)', 'q');
      await cfs.rmdir('q');
      await cfs.mkdir('q (deleted)', 0o755);
      writeFileSync(join(root, 'q (deleted)/f'), 'here');
      assert.equal(await readAll(cfs, 'q (deleted)/f'), 'here');
    } finally {
      cfs.close();
    }
  });

  it('falls back to the walk from the root where its host path is too long to read back', async () => {
    const { root } = fresh();
    const cfs = new ConfinedFs(root, undefined, new ProcessQuota(1));
    // A directory 4090 bytes below the root: its host path passes PATH_MAX (4096), the client's
    // paths to what is in it do not.
    const names = Array.from({ length: 16 }, (_, i) => i.toString(16).repeat(i < 15 ? 255 : 250));
    const deep = names.join('/');
    try {
      for (let i = 1; i <= names.length; i++) await cfs.mkdir(names.slice(0, i).join('/'), 0o755);
      for (let i = 0; i < 3; i++) await cfs.mkdir(`${deep}/x${i}`, 0o755);
      for (let i = 0; i < 3; i++) assert.ok((await cfs.stat(`${deep}/x${i}`, false)).isDirectory());
    } finally {
      // Removed through the jail: the host path is too long for rmSync.
      for (let i = 0; i < 3; i++) await cfs.rmdir(`${deep}/x${i}`).catch(() => undefined);
      for (let i = names.length; i >= 1; i--) await cfs.rmdir(names.slice(0, i).join('/')).catch(() => undefined);
      cfs.close();
    }
  });

  it('is one descriptor per session, also while walks still use one dropped', async () => {
    const { root } = fresh();
    const n = 6;
    for (let i = 0; i < n; i++) {
      // A chain of 39 links makes a walk of some 80 trips: still running while the test goes on.
      mkdirSync(join(root, `c${i}`));
      writeFileSync(join(root, `c${i}/l39`), 'x');
      for (let j = 0; j < 39; j++) symlinkSync(`l${j + 1}`, join(root, `c${i}/l${j}`));
    }
    const quota = new ProcessQuota(100);
    const cfs = new ConfinedFs(root, undefined, quota);
    const before = openFds();
    const slow: Array<Promise<unknown>> = [];
    try {
      await cfs.stat('c0/x', false).catch(() => undefined); // c0 kept
      let most = 0;
      for (let i = 0; i < n; i++) {
        const walk = cfs.stat(`c${i}/l0`, true); // starts in the kept c<i>
        walk.catch(() => undefined);
        slow.push(walk);
        renameSync(join(root, `c${i}`), join(root, `moved${i}`));
        await cfs.stat(`c${i}/x`, false).catch(() => undefined); // c<i> moved: dropped, still in use
        if (i + 1 < n) await cfs.stat(`c${i + 1}/x`, false).catch(() => undefined); // ends in c<i+1>
        most = Math.max(most, quota.total - quota.room());
      }
      assert.equal(most, 1, 'kept descriptors one session held at once');
      await Promise.allSettled(slow);
      assert.equal(openFds() - before, quota.total - quota.room(), 'descriptors still open: the kept directory, if any');
    } finally {
      cfs.close();
    }
    assert.equal(quota.room(), quota.total);
    assert.equal(openFds(), before - 1);
  });

  it('is let go when the session has not walked for a while', async () => {
    const { root } = fresh();
    const quota = new ProcessQuota(1);
    const cfs = new ConfinedFs(root, undefined, quota);
    const before = openFds();
    try {
      assert.equal(await readAll(cfs, 'd/f'), 'old');
      assert.equal(openFds(), before + 1);
      await new Promise((r) => setTimeout(r, KEEP_IDLE_MS + 400));
      assert.equal(openFds(), before, 'an idle session holds no directory');
      assert.equal(quota.room(), 1);
      assert.equal(await readAll(cfs, 'd/f'), 'old');
      assert.equal(quota.room(), 0, 'kept again once busy');
    } finally {
      cfs.close();
    }
  });
});
