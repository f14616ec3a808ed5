// Fuzz-ish robustness: thousands of random and mutated packets against serveSftp over an
// in-memory pipe. The server must answer every request that carries an id (with any reply),
// end a session only on what must end it, never throw, never leak a handle or an fd, and never
// touch anything outside the folder.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FXF } from '../../src/sftp/protocol/constants.js';
import { snapshot } from '../local/escape-fixture.js';
import { FuzzGen, rng } from './fuzz-packets.js';
import { startSession, tempDir } from './harness.js';

const openFds = () => readdirSync('/proc/self/fd').length;

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzz', () => {
  it('survives 4500 hostile packets across 30 sessions without leaks', async () => {
    const tmp = tempDir('sftp-fuzz-');
    const root = join(tmp.path, 'root');
    mkdirSync(join(root, 'dir'), { recursive: true });
    mkdirSync(join(tmp.path, 'outside'));
    writeFileSync(join(tmp.path, 'outside', 'x'), 'secret');
    writeFileSync(join(root, 'f.txt'), 'hello');
    symlinkSync('f.txt', join(root, 'link'));
    symlinkSync('loop', join(root, 'loop'));
    const outsideBefore = snapshot(join(tmp.path, 'outside'));
    const baseline = openFds();
    let answered = 0;
    try {
      for (let s = 0; s < 30; s++) {
        writeFileSync(join(root, 'f.txt'), 'hello'); // earlier sessions may have removed it
        const t = await startSession(root, { maxHandles: 16 });
        const gen = new FuzzGen(rng(1000 + s));
        // Real handles to abuse, including ones closed again right away.
        for (let i = 0; i < 4; i++) {
          const h = await t.client.open('f.txt', FXF.READ | (i % 2 ? FXF.WRITE : 0));
          assert.ok(h.handle, `open: ${h.code}`);
          gen.handles.push(h.handle);
          if (i % 2) await t.client.close(h.handle);
        }
        const d = await t.client.opendir('/');
        assert.ok(d.handle);
        gen.handles.push(d.handle);
        const pending = [];
        for (let i = 0; i < 150; i++) {
          const id = 10_000 + i;
          pending.push(t.client.requestRaw(id, gen.packet(id)));
          // Stay under the in-flight cap so every request is admitted.
          if (i % 16 === 15 || i === 149) {
            answered += (await within(Promise.all(pending.splice(0)), 10_000, `session ${s} replies`)).length;
          }
        }
        t.client.end();
        await within(t.session.done, 10_000, `session ${s} done`);
        assert.equal(t.session.openHandles, 0, `session ${s} kept handles`);
      }
      assert.equal(answered, 30 * 150);
      assert.equal(openFds(), baseline, 'file descriptors leaked');
      assert.deepEqual(snapshot(join(tmp.path, 'outside')), outsideBefore);
    } finally {
      tmp.cleanup();
    }
  });

  it('ends the session on framing-level garbage and still cleans up', async () => {
    const tmp = tempDir('sftp-fuzz-');
    writeFileSync(join(tmp.path, 'f.txt'), 'hello');
    const baseline = openFds();
    try {
      const r = rng(7);
      for (let s = 0; s < 40; s++) {
        const t = await startSession(tmp.path);
        await t.client.open('f.txt', FXF.READ);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(r() < 0.3 ? 0 : 256 * 1024 + 1 + Math.floor(r() * 2 ** 31), 0);
        t.client.sendRaw(Buffer.concat([len, Buffer.alloc(Math.floor(r() * 64), 1)]));
        await within(t.session.done, 5000, `session ${s}`);
        await within(t.client.endedPromise, 5000, `session ${s} end`);
        assert.equal(t.session.openHandles, 0);
      }
      assert.equal(openFds(), baseline);
    } finally {
      tmp.cleanup();
    }
  });
});
