// Issue #11, 6: SETSTAT masked modes with 0o777, so setuid, setgid and sticky bits were dropped
// and the client was told OK. The 07777 bits are kept now (OpenSSH: chmod(path, perm & 07777)),
// except that while the server runs as root (it may serve other people's folders) set-id bits on
// regular files are refused with PERMISSION_DENIED, and logged. Never an OK for a change not made.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FX, FXF } from '../../src/sftp/protocol/constants.js';
import { memoryLogger, startSession, stopSession, tempDir, type TestSession } from '../sftp/harness.js';

const asRoot = process.geteuid!() === 0;
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('permission bits beyond 0777', () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestSession;
  let lines: () => Array<Record<string, unknown>>;
  const p = (name: string) => join(tmp.path, name);

  beforeEach(async () => {
    tmp = tempDir('hostile-modes-');
    mkdirSync(p('shared'));
    mkdirSync(p('group'));
    writeFileSync(p('prog'), '#!/bin/sh\n');
    symlinkSync('prog', p('prog-link'));
    const mem = memoryLogger('info');
    lines = mem.lines;
    t = await startSession(tmp.path, { log: mem.log });
  });
  afterEach(async () => {
    await stopSession(t);
    tmp.cleanup();
  });

  it('chmod 1777 and 2755 on directories keep the sticky and setgid bits', async () => {
    assert.equal((await t.client.setstat('shared', { permissions: 0o1777 })).code, FX.OK);
    assert.equal(mode(p('shared')), 0o1777);
    assert.equal((await t.client.setstat('group', { permissions: 0o2755 })).code, FX.OK);
    assert.equal(mode(p('group')), 0o2755);
    const h = (await t.client.opendir('group')).handle!;
    assert.equal((await t.client.fsetstat(h, { permissions: 0o3775 })).code, FX.OK);
    assert.equal(mode(p('group')), 0o3775);
    await t.client.close(h);
    // MKDIR with set-id bits: mkdir(2) ignores them, so they are applied afterwards (umask aside).
    assert.equal((await t.client.mkdir('made', { permissions: 0o2755 })).code, FX.OK);
    assert.equal(mode(p('made')), 0o2755 & ~process.umask());
  });

  it('set-id bits on a file: refused as root (never a silent OK), kept otherwise', async () => {
    const before = mode(p('prog'));
    const h = (await t.client.open('prog', FXF.READ)).handle!;
    const replies = [
      await t.client.setstat('prog', { permissions: 0o4755 }),
      await t.client.setstat('prog-link', { permissions: 0o2755 }),
      await t.client.fsetstat(h, { permissions: 0o6755 }),
      await t.client.extended('lsetstat@openssh.com', (w) => w.string('prog').attrs({ permissions: 0o4755 })),
      await t.client.open('new-prog', FXF.WRITE | FXF.CREAT, { permissions: 0o4755 }),
    ];
    await t.client.close(h);
    if (asRoot) {
      assert.deepEqual(replies.map((r) => r.code), Array(5).fill(FX.PERMISSION_DENIED));
      assert.equal(mode(p('prog')), before, 'nothing changed');
      assert.equal(existsSync(p('new-prog')), false, 'nothing created');
      const refused = lines().filter((l) => l.msg === 'sftp setuid/setgid on a file refused: the server runs as root');
      assert.equal(refused.length, 1, 'logged, once per session');
    } else {
      assert.deepEqual(replies.slice(0, 4).map((r) => r.code), Array(4).fill(FX.OK));
      assert.equal(mode(p('prog')), 0o4755);
    }
    // Sticky on a file is no privilege: kept either way.
    assert.equal((await t.client.setstat('prog', { permissions: 0o1644 })).code, FX.OK);
    assert.equal(mode(p('prog')), 0o1644);
  });
});
