// Unit tests of the session's small parts: request scheduling, handle table, ls -l lines.
import assert from 'node:assert/strict';
import type { Stats } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SftpFile } from '../../src/sftp/server/filesystem.js';
import { HandleTable } from '../../src/sftp/server/handles.js';
import { longname, modeString } from '../../src/sftp/server/longname.js';
import { ReadBuffers } from '../../src/sftp/server/read-buffers.js';
import { RequestScheduler } from '../../src/sftp/server/scheduler.js';
import { SftpStatusError } from '../../src/sftp/server/status.js';
import { FX } from '../../src/sftp/protocol/constants.js';

describe('RequestScheduler', () => {
  it('overlaps parallel requests but runs serial ones alone and in order', async () => {
    const log: string[] = [];
    const s = new RequestScheduler(() => undefined);
    const job = (name: string, ms: number) => async () => {
      log.push(`+${name}`);
      await sleep(ms);
      log.push(`-${name}`);
    };
    s.submit('parallel', job('r1', 30));
    s.submit('parallel', job('r2', 10));
    s.submit('serial', job('close', 5));
    s.submit('parallel', job('r3', 5));
    assert.equal(s.pending, 4);
    await s.idle();
    assert.deepEqual(log, ['+r1', '+r2', '-r2', '-r1', '+close', '-close', '+r3', '-r3']);
  });

  it('drops queued requests on demand and still reports idle', async () => {
    const ran: string[] = [];
    const s = new RequestScheduler(() => undefined);
    s.submit('serial', async () => {
      await sleep(10);
      ran.push('a');
    });
    s.submit('serial', async () => void ran.push('b'));
    s.dropQueued();
    await s.idle();
    assert.deepEqual(ran, ['a']);
    assert.equal(s.pending, 0);
  });
});

describe('SftpStatusError', () => {
  it('carries its status and no stack trace (an answer, thrown for every EOF), and leaves other errors theirs', () => {
    const limit = Error.stackTraceLimit;
    const e = new SftpStatusError(FX.EOF, 'End of file');
    assert.ok(e instanceof Error);
    assert.equal(e.code, FX.EOF);
    assert.equal(e.message, 'End of file');
    assert.doesNotMatch(e.stack ?? '', /\n\s+at /);
    assert.equal(Error.stackTraceLimit, limit);
    assert.match(new Error('other').stack ?? '', /\n\s+at /);
  });
});

describe('HandleTable', () => {
  it('caps open handles and never reuses a handle string', async () => {
    const t = new HandleTable(2);
    const fake = (fd: number) => ({ fd, readable: true, writable: false, appending: false }) as unknown as SftpFile & { fd: number };
    const file = (fd: number) => () => Promise.resolve({ kind: 'file' as const, file: fake(fd), appends: Promise.resolve() });
    const a = await t.open('file', file(10));
    const b = await t.open('file', file(11));
    let called = false;
    await assert.rejects(t.open('file', async () => { called = true; return file(12)(); }), /too many open handles/);
    assert.equal(called, false, 'a full table opens nothing');
    assert.equal(t.remove(a).kind, 'file');
    const c = await t.open('file', file(10));
    assert.notDeepEqual(c, a);
    assert.throws(() => t.get(a), SftpStatusError);
    assert.equal((t.file(b).file as SftpFile & { fd: number }).fd, 11);
    assert.throws(() => t.dir(b), /Invalid handle/);
    assert.throws(() => t.get(Buffer.from('nonsense')), /Invalid handle/);
    assert.equal(t.drain().length, 2);
    assert.equal(t.size, 0);
  });
});

describe('longname', () => {
  const base = { uid: 1000, gid: 100, nlink: 1, size: 1234 };
  const now = new Date(2024, 5, 15, 12, 0).getTime();

  it('formats like OpenSSH ls_file for recent files', () => {
    const st = { ...base, mode: 0o100644, mtimeMs: new Date(2024, 0, 5, 9, 7).getTime() } as Stats;
    assert.equal(longname('a.txt', st, now), '-rw-r--r--    1 1000     100          1234 Jan  5 09:07 a.txt');
  });

  it('shows the year for files older than six months or in the future', () => {
    const old = { ...base, mode: 0o40755, mtimeMs: new Date(2020, 11, 25).getTime() } as Stats;
    assert.equal(longname('d', old, now), 'drwxr-xr-x    1 1000     100          1234 Dec 25  2020 d');
    const future = { ...base, mode: 0o100600, mtimeMs: now + 86400000 } as Stats;
    assert.match(longname('f', future, now), / Jun 16  2024 f$/);
  });

  it('renders file types and special bits like strmode', () => {
    assert.equal(modeString(0o120777), 'lrwxrwxrwx ');
    assert.equal(modeString(0o104755), '-rwsr-xr-x ');
    assert.equal(modeString(0o102644), '-rw-r-Sr-- ');
    assert.equal(modeString(0o41777), 'drwxrwxrwt ');
    assert.equal(modeString(0o10600), 'prw------- ');
  });
});

describe('ReadBuffers', () => {
  const ASK = 13 + 255 * 1024; // a DATA reply for the 255 KiB READ OpenSSH's sftp sends

  it('copies a reply that filled little of a large buffer out, and lends the buffer again', () => {
    const pool = new ReadBuffers();
    const buf = pool.take(ASK);
    assert.ok(buf.length >= ASK);
    buf.fill(7, 0, 13 + 4096);
    const reply = pool.settle(buf, 13 + 4096);
    assert.equal(reply.length, 13 + 4096);
    assert.notEqual(reply.buffer, buf.buffer, 'a copy, not a view of the lent buffer');
    const again = pool.take(ASK);
    assert.equal(again, buf, 'the same buffer is lent to the next large read');
    again.fill(0);
    assert.ok(reply.every((b) => b === 7), 'the copy does not change when the buffer is reused');
  });

  it('lets a reply that filled most of its buffer keep it, and pools nothing small', () => {
    const pool = new ReadBuffers();
    const buf = pool.take(ASK);
    const reply = pool.settle(buf, ASK);
    assert.equal(reply.buffer, buf.buffer, 'no copy for a full read');
    assert.notEqual(pool.take(ASK), buf, 'a kept buffer is not lent again');
    const small = pool.take(13 + 4096);
    assert.equal(small.length, 13 + 4096);
    pool.giveBack(small);
    assert.notEqual(pool.take(13 + 4096), small);
  });

  it('takes a full reply\'s buffer back once the stream has copied it out', () => {
    const pool = new ReadBuffers();
    const buf = pool.take(ASK);
    const reply = pool.settle(buf, ASK);
    assert.equal(pool.lent(reply), true);
    assert.equal(pool.lent(pool.settle(pool.take(ASK), 13 + 10)), false, 'a copied-out reply is its own buffer');
    pool.giveBack(reply); // a view: its whole buffer goes back
    assert.equal(pool.take(ASK), buf, 'lent again once given back');
    assert.equal(pool.lent(Buffer.alloc(ASK)), false);
  });

  it('keeps at most a few buffers while nothing reads', () => {
    const pool = new ReadBuffers();
    const lent = Array.from({ length: 20 }, () => pool.take(ASK));
    for (const b of lent) pool.giveBack(b);
    const reused = Array.from({ length: 20 }, () => pool.take(ASK)).filter((b) => lent.includes(b));
    assert.equal(reused.length, 8);
  });
});
