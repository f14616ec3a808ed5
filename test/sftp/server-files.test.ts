// Requests on open files through serveSftp: OPEN flags and modes, READ/WRITE, handles, fsync,
// FSTAT/FSETSTAT, copy-data, limits. Driven by the raw client over an in-memory pipe.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ADVERTISED_EXTENSIONS, FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { startSession, stopSession, tempDir, type TestSession } from './harness.js';

const { READ, WRITE, CREAT, TRUNC, EXCL, APPEND } = FXF;

describe('sftp server: files', () => {
  const tmp = tempDir('sftp-files-');
  let t: TestSession;
  const p = (name: string) => join(tmp.path, name);

  before(() => writeFileSync(p('hello.txt'), 'hello world'));
  beforeEach(async () => (t = await startSession(tmp.path, { maxHandles: 8 })));
  afterEach(() => stopSession(t));
  after(() => tmp.cleanup());

  it('answers INIT with VERSION 3 and the advertised extensions', () => {
    assert.equal(t.client.version, 3);
    assert.deepEqual([...t.client.extensions], ADVERTISED_EXTENSIONS.map(([k, v]) => [k, v]));
  });

  it('writes, reads back and counts bytes both ways', async () => {
    const c = t.client;
    const h = (await c.open('/new.bin', WRITE | CREAT | TRUNC)).handle!;
    const data = Buffer.from('0123456789abcdef'.repeat(1000));
    assert.equal((await c.write(h, 0, data)).code, FX.OK);
    assert.equal((await c.write(h, data.length, Buffer.from('tail'))).code, FX.OK);
    assert.equal((await c.close(h)).code, FX.OK);
    assert.deepEqual(readFileSync(p('new.bin')), Buffer.concat([data, Buffer.from('tail')]));
    assert.equal(statSync(p('new.bin')).mode & 0o777, 0o644);

    const r = (await c.open('new.bin', READ)).handle!;
    const first = await c.read(r, 0, 10);
    assert.equal(first.type, FXP.DATA);
    assert.equal(first.data!.toString(), '0123456789');
    const last = await c.read(r, data.length, 100);
    assert.equal(last.data!.toString(), 'tail');
    assert.equal((await c.read(r, data.length + 4, 100)).code, FX.EOF);
    await c.close(r);
    assert.equal(t.session.counters.bytesUp, data.length + 4);
    assert.equal(t.session.counters.bytesDown, 14);
  });

  it('handles 64 pipelined writes and reads out of order', async () => {
    const c = t.client;
    const chunk = 4096;
    const want = Buffer.alloc(64 * chunk);
    for (let i = 0; i < want.length; i++) want[i] = (i * 7) & 0xff;
    const h = (await c.open('pipelined.bin', WRITE | CREAT | TRUNC)).handle!;
    const order = [...Array(64).keys()].reverse();
    const acks = await Promise.all(order.map((i) => c.write(h, i * chunk, want.subarray(i * chunk, (i + 1) * chunk))));
    assert.ok(acks.every((a) => a.code === FX.OK));
    await c.close(h);
    assert.deepEqual(readFileSync(p('pipelined.bin')), want);
    const r = (await c.open('pipelined.bin', READ)).handle!;
    const parts = await Promise.all(order.map((i) => c.read(r, i * chunk, chunk)));
    assert.deepEqual(Buffer.concat(parts.reverse().map((x) => x.data!)), want);
    await c.close(r);
  });

  it('clamps READ lengths to the advertised maximum', async () => {
    writeFileSync(p('big.bin'), Buffer.alloc(600 * 1024, 1));
    const h = (await t.client.open('big.bin', READ)).handle!;
    const r = await t.client.read(h, 0, 0xffffffff);
    assert.equal(r.data!.length, 256 * 1024 - 1024);
    await t.client.close(h);
  });

  it('honours CREAT, EXCL, TRUNC, APPEND and client permissions', async () => {
    const c = t.client;
    assert.equal((await c.open('nope.txt', READ)).code, FX.NO_SUCH_FILE);
    assert.equal((await c.open('hello.txt', WRITE | CREAT | EXCL)).code, FX.FAILURE);
    const ex = await c.open('excl.txt', WRITE | CREAT | EXCL, { permissions: 0o600 });
    await c.close(ex.handle!);
    assert.equal(statSync(p('excl.txt')).mode & 0o777, 0o600);

    writeFileSync(p('app.txt'), 'abc');
    const a = (await c.open('app.txt', WRITE | APPEND)).handle!;
    await c.write(a, 0, Buffer.from('def')); // offset ignored in append mode, as with OpenSSH
    await c.close(a);
    assert.equal(readFileSync(p('app.txt'), 'utf8'), 'abcdef');

    const tr = (await c.open('app.txt', WRITE | TRUNC)).handle!;
    await c.close(tr);
    assert.equal(readFileSync(p('app.txt'), 'utf8'), '');

    // Set-id bits are kept (as OpenSSH does), except that as root they are refused on files.
    const suid = await c.open('suid.txt', WRITE | CREAT, { permissions: 0o4777 });
    if (process.geteuid!() === 0) {
      assert.equal(suid.code, FX.PERMISSION_DENIED);
      assert.equal(existsSync(p('suid.txt')), false, 'nothing created');
    } else {
      await c.close(suid.handle!);
      assert.equal(statSync(p('suid.txt')).mode & 0o7777, 0o4777 & ~process.umask());
    }
  });

  it('refuses writes on read-only handles and reads on write-only ones', async () => {
    const c = t.client;
    const r = (await c.open('hello.txt', READ)).handle!;
    assert.notEqual((await c.write(r, 0, Buffer.from('x'))).code, FX.OK);
    await c.close(r);
    const w = (await c.open('hello.txt', WRITE)).handle!;
    assert.notEqual((await c.read(w, 0, 5)).type, FXP.DATA);
    await c.close(w);
    assert.equal(readFileSync(p('hello.txt'), 'utf8'), 'hello world');
  });

  it('caps open handles per session and frees the slot on CLOSE', async () => {
    const c = t.client;
    const hs: Buffer[] = [];
    for (let i = 0; i < 8; i++) hs.push((await c.open('hello.txt', READ)).handle!);
    const over = await c.open('hello.txt', READ);
    assert.deepEqual([over.code, over.message], [FX.FAILURE, 'too many open handles']);
    assert.equal((await c.opendir('/')).code, FX.FAILURE);
    assert.equal(t.session.openHandles, 8);
    const lim = await c.extended('limits@openssh.com');
    const r = lim.ext!;
    assert.deepEqual([r.u64(), r.u64(), r.u64(), r.u64()], [256 * 1024, 255 * 1024, 255 * 1024, 1]);
    await c.close(hs.pop()!);
    assert.ok((await c.open('hello.txt', READ)).handle);
  });

  it('answers bad, foreign and closed handles with FAILURE', async () => {
    const c = t.client;
    const h = (await c.open('hello.txt', READ)).handle!;
    await c.close(h);
    for (const bad of [h, Buffer.from('zzzz'), Buffer.alloc(0), Buffer.alloc(300, 1)]) {
      assert.equal((await c.read(bad, 0, 10)).code, FX.FAILURE);
      assert.equal((await c.close(bad)).code, FX.FAILURE);
      assert.equal((await c.fstat(bad)).code, FX.FAILURE);
    }
    const d = (await c.opendir('/')).handle!;
    assert.equal((await c.read(d, 0, 10)).code, FX.FAILURE, 'READ on a directory handle');
    await c.close(d);
  });

  it('FSTAT, FSETSTAT (size, mode, times) and fsync on handles', async () => {
    const c = t.client;
    writeFileSync(p('attrs.txt'), '0123456789');
    const h = (await c.open('attrs.txt', READ | WRITE)).handle!;
    const st = await c.fstat(h);
    assert.equal(st.attrs!.size, 10);
    assert.equal(st.attrs!.permissions! & 0o170000, 0o100000);
    const set = await c.fsetstat(h, { size: 4, permissions: 0o640, atime: 1_000_000, mtime: 2_000_000 });
    assert.equal(set.code, FX.OK);
    const s = statSync(p('attrs.txt'));
    assert.deepEqual([s.size, s.mode & 0o777, s.mtimeMs], [4, 0o640, 2_000_000_000]);
    assert.equal((await c.fsetstat(h, { uid: s.uid + 1, gid: s.gid })).code, FX.PERMISSION_DENIED);
    assert.equal((await c.fsetstat(h, { uid: s.uid, gid: s.gid })).code, FX.OK);
    assert.equal((await c.extended('fsync@openssh.com', (w) => w.string(h))).code, FX.OK);
    const fv = await c.extended('fstatvfs@openssh.com', (w) => w.string(h));
    assert.equal(fv.type, FXP.EXTENDED_REPLY);
    await c.close(h);
  });

  it('copy-data copies ranges server-side, "0" meaning to end of file', async () => {
    const c = t.client;
    writeFileSync(p('src.bin'), Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(20000)));
    const src = (await c.open('src.bin', READ)).handle!;
    const dst = (await c.open('dst.bin', WRITE | CREAT | TRUNC)).handle!;
    const copy = (rh: Buffer, ro: number, len: number, wh: Buffer, wo: number) =>
      c.extended('copy-data', (w) => w.string(rh).u64(ro).u64(len).string(wh).u64(wo));
    assert.equal((await copy(src, 0, 0, dst, 0)).code, FX.OK);
    assert.deepEqual(readFileSync(p('dst.bin')), readFileSync(p('src.bin')));
    assert.equal((await copy(src, 3, 5, dst, 1)).code, FX.OK);
    assert.equal(readFileSync(p('dst.bin')).subarray(0, 8).toString(), 'adefghgh');
    assert.equal((await copy(dst, 0, 0, src, 0)).code, FX.PERMISSION_DENIED, 'source not readable');
    const rw = (await c.open('dst.bin', READ | WRITE)).handle!;
    assert.equal((await copy(rw, 0, 10, rw, 5)).code, FX.FAILURE, 'overlapping ranges');
    assert.equal((await copy(rw, 0, 10, rw, 10)).code, FX.OK);
    await Promise.all([c.close(src), c.close(dst), c.close(rw)]);
  });

  it('copy-data into the same file through two handles stops at the size it had (no self-feeding)', async () => {
    const c = t.client;
    writeFileSync(p('grow.bin'), Buffer.alloc(64 * 1024, 65));
    const r = (await c.open('grow.bin', READ)).handle!;
    const w = (await c.open('grow.bin', WRITE)).handle!;
    const a = (await c.open('grow.bin', WRITE | APPEND)).handle!;
    const copy = (wh: Buffer, wo: number) => c.extended('copy-data', (x) => x.string(r).u64(0).u64(2 ** 52).string(wh).u64(wo));
    assert.equal((await copy(w, 1024)).code, FX.FAILURE, 'overlapping ranges of one file, two handles');
    assert.equal((await copy(w, 64 * 1024)).code, FX.OK);
    assert.equal(statSync(p('grow.bin')).size, 128 * 1024, 'copied what the file held when the copy began');
    assert.equal((await copy(a, 128 * 1024)).code, FX.OK, 'an append handle: the range is still fixed up front');
    assert.equal(statSync(p('grow.bin')).size, 256 * 1024);
    await Promise.all([c.close(r), c.close(w), c.close(a)]);
  });

  it('a copy-data still running when the session ends stops, and every handle is closed', async () => {
    const c = t.client;
    writeFileSync(p('big.bin'), Buffer.alloc(64 * 1024 * 1024, 1));
    try {
      const src = (await c.open('big.bin', READ)).handle!;
      const dst = (await c.open('big-copy.bin', WRITE | CREAT | TRUNC)).handle!;
      void c.extended('copy-data', (x) => x.string(src).u64(0).u64(0).string(dst).u64(0)).catch(() => undefined);
      await new Promise((res) => setTimeout(res, 20));
      t.session.close();
      await t.session.done;
      assert.equal(t.session.openHandles, 0);
      const copied = statSync(p('big-copy.bin')).size;
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(statSync(p('big-copy.bin')).size, copied, 'nothing written after the session ended');
      assert.ok(copied < 64 * 1024 * 1024, `stopped early (${copied} bytes copied)`);
    } finally {
      writeFileSync(p('big.bin'), '');
      writeFileSync(p('big-copy.bin'), '');
    }
  });

  it('answers unknown requests and extensions with OP_UNSUPPORTED', async () => {
    assert.equal((await t.client.extended('no-such@example.com')).code, FX.OP_UNSUPPORTED);
    assert.equal((await t.client.request(99)).code, FX.OP_UNSUPPORTED);
    assert.equal((await t.client.request(FXP.STATUS)).code, FX.OP_UNSUPPORTED);
  });

  it('answers a truncated request that has an id with BAD_MESSAGE', async () => {
    assert.equal((await t.client.request(FXP.OPEN, (w) => w.u32(50))).code, FX.BAD_MESSAGE);
    const h = (await t.client.open('hello.txt', FXF.READ)).handle!;
    assert.equal((await t.client.request(FXP.READ, (w) => w.string(h).u32(1))).code, FX.BAD_MESSAGE);
    await t.client.close(h);
    assert.equal((await t.client.request(FXP.EXTENDED, (w) => w.u32(1000))).code, FX.BAD_MESSAGE);
  });
});
