// Check-then-use races: a worker thread keeps swapping a directory of the jail for a symlink to
// the outside while ConfinedFs is hammered with operations through that directory. The walk
// goes from pinned directory to pinned directory, so it meets the link (and refuses it: that
// count shows the race is real) but is never led outside, even with the second line of
// defence, the check of every opened descriptor, switched off. REALPATH under the same kind of
// race must tell nothing about what lies outside.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ConfinedFs } from '../../src/local/confined-fs.js';
import { readAt } from '../../src/local/fd-io.js';
import { closeFd } from '../../src/local/proc-fd.js';
import { tempDir } from '../sftp/harness.js';
import { snapshot } from './escape-fixture.js';

const SECRET = 'OUTSIDE-SECRET';

// root/sw is a real directory or (briefly) a symlink to base/outside, forever.
const SWAPPER = `
const { renameSync } = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const { root } = workerData;
let stop = false;
parentPort.on('message', () => { stop = true; });
const j = (n) => root + '/' + n;
(function loop() {
  for (let i = 0; i < 200 && !stop; i++) {
    try {
      renameSync(j('sw'), j('hold'));
      renameSync(j('lnk'), j('sw'));
      renameSync(j('sw'), j('lnk'));
      renameSync(j('hold'), j('sw'));
    } catch {}
  }
  if (stop) parentPort.postMessage('stopped'); else setImmediate(loop);
})();
`;

function build(base: string): string {
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(outside, 'd'), { recursive: true });
  writeFileSync(join(outside, 'd', 'f.txt'), SECRET);
  writeFileSync(join(outside, 'd', 'victim.txt'), SECRET);
  mkdirSync(join(root, 'sw', 'd'), { recursive: true });
  writeFileSync(join(root, 'sw', 'd', 'f.txt'), 'inside');
  symlinkSync(outside, join(root, 'lnk'));
  return root;
}

interface Outcome {
  leaks: string[];
  attempts: number;
  /** Operations refused because the walk met the swapped-in link to outside: the race happened. */
  refused: number;
  cfs: ConfinedFs;
}

/** Hammer for `ms` from several concurrent loops; record any success that touched the outside. */
async function hammer(root: string, ms: number, disableVerification: boolean): Promise<Outcome> {
  const cfs = new ConfinedFs(root);
  if (disableVerification) cfs.verifyFd = () => undefined;
  const leaks: string[] = [];
  let attempts = 0;
  let refused = 0;
  const deadline = Date.now() + ms;
  const cap = Date.now() + 10_000; // a loaded machine may need longer to hit the race at all
  const ignore = (err: { code?: string }) => { if (err.code === 'EJAIL') refused++; };
  const loop = async (n: number) => {
    while ((Date.now() < deadline || (refused === 0 && Date.now() < cap)) && leaks.length === 0) {
      attempts++;
      try {
        const fd = await cfs.openFd('sw/d/f.txt', constants.O_RDONLY, 0);
        const buf = Buffer.alloc(64);
        const got = await readAt(fd, buf, 0, 64, 0).finally(() => closeFd(fd));
        if (buf.subarray(0, got).toString() === SECRET) leaks.push('read');
      } catch (err) {
        ignore(err as { code?: string }); // refused or missing: fine
      }
      await cfs.openFd(`sw/d/new${n}.txt`, constants.O_WRONLY | constants.O_CREAT, 0o644).then(closeFd, ignore);
      await cfs.setstat('sw/d/f.txt', { atime: 5, mtime: 5 }, true).catch(ignore);
      await cfs.mkdir(`sw/d/dir${n}`, 0o755).catch(ignore);
      await cfs.rmdir(`sw/d/dir${n}`).catch(ignore);
      await cfs.remove('sw/d/victim.txt').catch(ignore);
      await cfs.stat('sw/d/f.txt', true).then((st) => st.size === SECRET.length && leaks.push('stat'), ignore);
    }
  };
  await Promise.all([0, 1, 2, 3].map(loop));
  return { leaks, attempts, refused, cfs };
}

async function race(ms: number, disableVerification: boolean) {
  const tmp = tempDir('swap-race-');
  try {
    const root = build(tmp.path);
    const before = snapshot(join(tmp.path, 'outside'));
    const worker = new Worker(SWAPPER, { eval: true, workerData: { root } });
    let out: Outcome;
    try {
      out = await hammer(root, ms, disableVerification);
    } finally {
      const stopped = new Promise((r) => worker.once('message', r));
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    }
    const after = snapshot(join(tmp.path, 'outside'));
    return { ...out, outsideChanged: JSON.stringify(before) !== JSON.stringify(after) };
  } finally {
    tmp.cleanup();
  }
}

describe('swapping a component for a symlink during use', () => {
  it('never reaches outside the jail', async () => {
    const r = await race(1500, false);
    assert.deepEqual(r.leaks, []);
    assert.equal(r.outsideChanged, false);
    assert.ok(r.attempts > 100, `only ${r.attempts} rounds`);
    assert.ok(r.refused > 0, 'the walk never met the swapped-in link: the race never happened, the test proves nothing');
  });

  it('the walk alone is race-free: without the descriptor check it still never escapes', async () => {
    // The walk goes from pinned directory to pinned directory; the check of each opened
    // descriptor is a second line of defence, not what keeps a swap out.
    const r = await race(1500, true);
    assert.deepEqual(r.leaks, []);
    assert.equal(r.outsideChanged, false);
    assert.ok(r.refused > 0, 'the race never happened');
  });

  it('realpath during a client-made swap tells nothing about outside the folder', async () => {
    // What a client can set up through the server: a directory "sw" and a link "lnk" -> "..",
    // swapped in a loop while realpath walks "sw/..." (the swap makes the folder's parent,
    // with its secret link and its directories, appear under "sw" for a walk by host path).
    const tmp = tempDir('swap-realpath-');
    try {
      const root = join(tmp.path, 'root');
      mkdirSync(root);
      mkdirSync(join(tmp.path, 'outside', 'hidden-dir'), { recursive: true });
      symlinkSync('TOPSECRET-TARGET-NAME', join(tmp.path, 'outside', 'L'));
      const cfs = new ConfinedFs(root);
      await cfs.mkdir('sw', 0o755);
      await cfs.symlink('..', 'lnk');
      // A client can run this loop through the server (posix-rename); a thread does it faster.
      const worker = new Worker(SWAPPER, { eval: true, workerData: { root } });
      const outcomes = new Map<string, Set<string>>();
      const deadline = Date.now() + 1500;
      const cap = Date.now() + 10_000;
      let refused = 0;
      while (Date.now() < deadline || (refused === 0 && Date.now() < cap)) {
        for (const p of ['sw/outside/L', 'sw/outside/hidden-dir/x', 'sw/outside/nope/x']) {
          const got = await cfs.realpath(p).then((r) => r.toString(), (e: NodeJS.ErrnoException) => `!${e.code}`);
          if (got === '!EJAIL') refused++;
          if (!outcomes.has(p)) outcomes.set(p, new Set());
          outcomes.get(p)!.add(got);
        }
      }
      const stopped = new Promise((res) => worker.once('message', res));
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
      const all = [...outcomes.values()].flatMap((v) => [...v]);
      assert.ok(!all.some((o) => o.includes('TOPSECRET')), `an outside link target was revealed: ${all.join(', ')}`);
      // Existing and missing outside paths must look the same (no existence oracle).
      const norm = (p: string) => [...outcomes.get(p)!].map((o) => o.replace(/hidden-dir|nope/, 'X')).sort();
      assert.deepEqual(norm('sw/outside/hidden-dir/x'), norm('sw/outside/nope/x'));
      assert.ok(refused > 0, 'the race never happened');
      cfs.close();
    } finally {
      tmp.cleanup();
    }
  });
});
