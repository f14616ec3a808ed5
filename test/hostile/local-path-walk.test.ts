// Issue #11, 2: path resolution was quadratic. Every ".." walked down again from the folder's
// root, so one 4 KiB REALPATH ("d/" x 819 then "../" x 819) took 19 s, links whose targets expand
// into more components and ".." were worse, and the walk went on after the client had gone.
// Now a ".." is one step, the components one request may process are capped (links included),
// and a walk stops between steps once its session has ended.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfinedFs } from '../../src/local/confined-fs.js';
import { FX, FXP } from '../../src/sftp/protocol/constants.js';
import { startSession, stopSession, tempDir } from '../sftp/harness.js';

const DEPTH = 819;
/** 4095 bytes: down DEPTH levels and back up to "/". */
const DOWN_AND_UP = `${'d/'.repeat(DEPTH)}${'../'.repeat(DEPTH)}`;

describe('path walks do bounded, linear work', () => {
  const tmp = tempDir('hostile-walk-');
  const root = join(tmp.path, 'root');
  before(() => {
    mkdirSync(join(root, ...Array.from({ length: DEPTH }, () => 'd')), { recursive: true });
    // Each expansion of L is 1600 components, half of them "..", and ends in L again: without
    // a cap on the work, 40 hops of it are 64,000 steps (minutes when each ".." walked down again).
    symlinkSync(`${'d/'.repeat(800)}${'../'.repeat(800)}L`, join(root, 'L'));
    // The same, net zero, as a directory to walk through: "N/N/N/..." stays at the top.
    symlinkSync(`${'d/'.repeat(800)}${'../'.repeat(800)}`, join(root, 'N'));
  });
  after(() => tmp.cleanup());

  it('a 4 KiB REALPATH of ".." after ".." answers at once (it took 19 s)', { timeout: 60_000 }, async () => {
    const t = await startSession(root);
    try {
      assert.equal(DOWN_AND_UP.length, 4095);
      const started = Date.now();
      const r = await t.client.realpath(DOWN_AND_UP);
      const ms = Date.now() - started;
      assert.equal(r.type, FXP.NAME);
      assert.equal(r.names![0]!.name, '/');
      assert.equal((await t.client.realpath(`${'d/'.repeat(800)}${'../'.repeat(799)}x`)).names![0]!.name, '/d/x');
      assert.ok(ms < 2000, `${ms} ms`);
    } finally {
      await stopSession(t);
    }
  });

  it('links that expand into ever more components are refused after a bounded amount of work', { timeout: 60_000 }, async () => {
    const t = await startSession(root);
    try {
      const started = Date.now();
      const replies = await Promise.all([
        t.client.realpath('L'),
        t.client.lstat('N/N/N/N/N/N/N/N/N/N/x'),
        t.client.opendir('N/N/N/N/N/N/N/N/N/N/N/N/N/N/N/N'),
      ]);
      const ms = Date.now() - started;
      // ELOOP, as the kernel says for too many links: NO_SUCH_FILE in SFTP (as OpenSSH maps it).
      assert.deepEqual(replies.map((r) => [r.code, r.message]), Array(3).fill([FX.NO_SUCH_FILE, 'Too many levels of symbolic links']));
      // Unbounded, each of these was up to 40 hops of 1600 components: millions of steps when
      // every ".." walked down again (over 60 s before the fix). Bounded, each stops after 8192.
      assert.ok(ms < 12_000, `${ms} ms for three`);
      // Within the cap, the same links resolve.
      assert.equal((await t.client.realpath('N/N/N/d')).names![0]!.name, '/d');
    } finally {
      await stopSession(t);
    }
  });

  it('a walk stops once its session has ended', { timeout: 60_000 }, async () => {
    const ac = new AbortController();
    const cfs = new ConfinedFs(root, ac.signal);
    try {
      const walking = cfs.realpath(DOWN_AND_UP);
      ac.abort(); // the walk's first step is under way
      await assert.rejects(walking, { code: 'ECANCELED' });
      await assert.rejects(cfs.realpath('d'), { code: 'ECANCELED' }, 'and no walk starts afterwards');
    } finally {
      cfs.close();
    }

    // Through sessions: clients send long walks and disconnect (the SSH server then closes their
    // sessions); the sessions are done at once, not after the walks (up to a second each, bounded).
    const sessions = await Promise.all(Array.from({ length: 4 }, () => startSession(root)));
    for (const t of sessions) for (let i = 0; i < 2; i++) void t.client.realpath('L');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    for (const t of sessions) t.session.close();
    await Promise.all(sessions.map((t) => t.session.done));
    const ms = Date.now() - started;
    assert.ok(ms < 1000, `sessions done ${ms} ms after they were closed`);
  });

  it('holds a few descriptors per walk, whatever the depth and the number of ".."', async () => {
    const cfs = new ConfinedFs(root);
    const count = () => readdirSync('/proc/self/fd').length;
    const start = count();
    let peak = start;
    const sampler = setInterval(() => { peak = Math.max(peak, count()); }, 1);
    try {
      const walks = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? cfs.realpath(DOWN_AND_UP) : cfs.realpath('N/N/N/N/N/d')));
      assert.deepEqual((await Promise.all(walks)).map(String), ['/', '/d', '/', '/d', '/', '/d']);
    } finally {
      clearInterval(sampler);
      cfs.close();
    }
    assert.ok(peak - start <= 6 * 3, `${peak - start} descriptors at once for 6 walks`);
  });
});
