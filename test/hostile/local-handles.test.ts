// Issue #11, 1: one local-mode user could open handles until the process ran out of file
// descriptors (8 connections x 10 sessions x 256 handles reached the 20,000-descriptor limit in
// 6 s), and then every other user's login failed. Handles are now budgeted per user across all
// their connections and sessions, and in total from the process's descriptor limit.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { DEFAULT_MAX_HANDLES_PER_USER, HandleBudget, handleBudgetTotal } from '../../src/local/handle-budget.js';
import { FX, FXF } from '../../src/sftp/protocol/constants.js';
import { serveFolder } from '../../src/local/serve-folder.js';
import { duplexPair } from '../sftp/duplex-pair.js';
import { memoryLogger, startSession, stopSession, tempDir, type TestSession } from '../sftp/harness.js';
import { sftpOf, startLocalProduct, type LocalProduct } from './local-product.js';

const openFile = (sftp: SFTPWrapper, path: string): Promise<Buffer> =>
  new Promise((resolve, reject) => sftp.open(path, 'r', (err, h) => (err ? reject(err) : resolve(h))));
const closeHandle = (sftp: SFTPWrapper, h: Buffer): Promise<void> =>
  new Promise((resolve, reject) => sftp.close(h, (err) => (err ? reject(err) : resolve())));
const readAll = (sftp: SFTPWrapper, path: string): Promise<string> =>
  new Promise((resolve, reject) => sftp.readFile(path, (err, b) => (err ? reject(err) : resolve(b.toString()))));

describe('handles across one user\'s connections (product, local mode)', () => {
  let p: LocalProduct;
  const conns: ssh2.Client[] = [];
  before(async () => {
    p = await startLocalProduct(['mallory', 'dora']);
    writeFileSync(join(p.folder('mallory'), 'f'), 'm');
    writeFileSync(join(p.folder('dora'), 'f'), 'hello');
  });
  after(async () => {
    for (const c of conns) c.end();
    await p?.close();
  });

  it('a user who opens handles until refused leaves every other user able to log in and open files', async () => {
    // What the probe did: up to 8 connections x 10 sessions, 256 handles (the per-session cap) each.
    const sessions: Array<{ sftp: SFTPWrapper; handles: Buffer[] }> = [];
    let refusal: { code?: number; message: string } | undefined;
    outer: for (let c = 0; c < 8; c++) {
      const conn = await p.login('mallory');
      conns.push(conn);
      for (let s = 0; s < 10; s++) {
        const sftp = await sftpOf(conn);
        const results = await Promise.allSettled(Array.from({ length: 256 }, () => openFile(sftp, '/f')));
        const handles = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        sessions.push({ sftp, handles });
        const refused = results.find((r) => r.status === 'rejected');
        if (refused) {
          refusal = (refused as PromiseRejectedResult).reason as { code?: number; message: string };
          break outer;
        }
      }
    }
    const held = sessions.reduce((n, s) => n + s.handles.length, 0);
    assert.ok(refusal, `never refused, ${held} handles held`);
    assert.equal(refusal.code, FX.FAILURE);
    assert.match(refusal.message, /too many open handles/);
    // Each session holds its folder's descriptor too.
    assert.equal(held + sessions.length, DEFAULT_MAX_HANDLES_PER_USER, 'refused at the per-user cap, across connections and sessions');

    const dora = await p.login('dora');
    conns.push(dora);
    const doraSftp = await sftpOf(dora);
    assert.equal(await readAll(doraSftp, '/f'), 'hello');
    const mine = await Promise.all(Array.from({ length: 100 }, () => openFile(doraSftp, '/f')));
    assert.equal(mine.length, 100);

    // Refused again and again in the same session: logged once for that session and cap.
    const last = sessions[sessions.length - 1]!;
    for (let i = 0; i < 20; i++) await assert.rejects(openFile(last.sftp, '/f'), /too many open handles/);
    const logged = p.proxy.logs().filter((l) => l.msg === 'sftp open refused: too many open handles' && l.user === 'mallory');
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.equal(logged[0]!.cap, 'user');

    // A handle closed anywhere gives its room back to the user.
    await closeHandle(sessions[0]!.sftp, sessions[0]!.handles.pop()!);
    await closeHandle(last.sftp, await openFile(last.sftp, '/f'));
  });
});

describe('HandleBudget (in process)', () => {
  const tmp = tempDir('hostile-budget-');
  before(() => writeFileSync(join(tmp.path, 'f'), 'x'));
  after(() => tmp.cleanup());

  it('derives the total from the "Max open files" soft limit, keeping headroom', () => {
    const limits = (soft: string, hard: string) =>
      `Limit                     Soft Limit           Hard Limit           Units     \n` +
      `Max processes             95000                95000                processes \n` +
      `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     \n`;
    const t20k = handleBudgetTotal(limits('20000', '20000'));
    assert.ok(t20k < 20000 - 1000 && t20k > 10000, `total ${t20k} for 20000 descriptors`);
    assert.ok(handleBudgetTotal(limits('1024', '4096')) < 1024 - 200, 'the soft limit counts, with headroom');
    assert.throws(() => handleBudgetTotal('Max open files  lots lots files\n'), /Max open files/);
  });

  it('refuses past the user cap and past the process total, with FAILURE, and logs once per session and cap', async () => {
    // Each session draws one descriptor for its folder: a's two sessions leave 6 for handles.
    const budget = new HandleBudget({ perUser: 8, total: 14 });
    const { log, lines } = memoryLogger('info');
    const start = (user: string): Promise<TestSession> => startSession(tmp.path, { log, handleQuota: budget.account(user) });
    const a1 = await start('a');
    const a2 = await start('a');
    const b = await start('b');
    try {
      const open = (t: TestSession) => t.client.open('f', FXF.READ);
      for (let i = 0; i < 3; i++) assert.ok((await open(a1)).handle);
      for (let i = 0; i < 3; i++) assert.ok((await open(a2)).handle);
      const overUser = await open(a2);
      assert.deepEqual([overUser.code, overUser.message], [FX.FAILURE, 'too many open handles']);
      // b's session took 1, leaving 5 of the 14: a directory handle holds two descriptors, so 2 + 1 + 1 + 1.
      assert.ok((await b.client.opendir('.')).handle);
      assert.ok((await open(b)).handle);
      assert.ok((await open(b)).handle);
      const third = await open(b);
      assert.ok(third.handle);
      assert.deepEqual([(await open(b)).code, (await b.client.opendir('.')).code], [FX.FAILURE, FX.FAILURE]);
      assert.equal(budget.held, 14);
      await b.client.close(third.handle!);
      assert.ok((await open(b)).handle, 'a closed handle is room again');
      const refusals = lines().filter((l) => l.msg === 'sftp open refused: too many open handles');
      assert.deepEqual(refusals.map((l) => l.cap).sort(), ['process', 'user']);
    } finally {
      for (const t of [a1, a2, b]) await stopSession(t);
    }
    assert.equal(budget.held, 0, 'every handle is given back when sessions end');
  });

  it('a session started when the user has nothing left ends at once, holding nothing', async () => {
    const budget = new HandleBudget({ perUser: 2, total: 100 });
    const { log, lines } = memoryLogger('info');
    const a = await startSession(tmp.path, { log, handleQuota: budget.account('a') });
    try {
      assert.ok((await a.client.open('f', FXF.READ)).handle);
      assert.equal(budget.held, 2);
      const [clientEnd, serverEnd] = duplexPair();
      let exit: number | undefined;
      Object.assign(serverEnd, { exit: (code: number) => { exit = code; } });
      const refused = serveFolder(serverEnd, { root: tmp.path, log, handleQuota: budget.account('a') });
      clientEnd.resume();
      await refused.done;
      assert.equal(exit, 1);
      assert.equal(budget.held, 2, 'the refused session took nothing');
      assert.equal(lines().filter((l) => l.msg === 'sftp session refused: too many open handles').length, 1);
    } finally {
      await stopSession(a);
    }
    assert.equal(budget.held, 0);
  });
});

