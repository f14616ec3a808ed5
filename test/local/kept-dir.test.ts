// The directory a walk ended in is kept for the next walk (src/local/kept-dir.ts): a walk that
// starts there must end where a walk from the root would, whatever happened to the directory
// since (renamed, replaced by another, by a link, moved out of the folder, removed), and the
// kept descriptors are bounded for the whole process and let go at session end.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfinedFs } from '../../src/local/confined-fs.js';
import { ProcessQuota } from '../../src/local/handle-budget.js';
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
    const cfs = new ConfinedFs(root, undefined, new ProcessQuota(4));
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
      assert.ok(openFds() - before <= 1, `${openFds() - before} descriptors still open`);
    } finally {
      cfs.close();
    }
    assert.equal(openFds(), before - 1);
  });
});
