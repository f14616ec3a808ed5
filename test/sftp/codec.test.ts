// Unit tests of the wire codec: reader bounds, writer encoding, framing, status mapping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTR, FX, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketFramer } from '../../src/sftp/protocol/framer.js';
import { PacketError, PacketReader } from '../../src/sftp/protocol/packet-reader.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { SftpStatusError, errnoError, statusOf } from '../../src/sftp/server/status.js';
import { finishDataReply, DATA_HEADER, statusReply } from '../../src/sftp/protocol/replies.js';

describe('PacketWriter/PacketReader', () => {
  it('round-trips every field type, growing the buffer as needed', () => {
    const big = Buffer.alloc(1000, 0x61);
    const buf = new PacketWriter(FXP.NAME, 8)
      .u8(7)
      .u32(0xdeadbeef)
      .u64(2 ** 53 - 1)
      .u64(0x1_2345_6789)
      .string('héllo')
      .string(big)
      .attrs({ size: 5e12, uid: 1, gid: 2, permissions: 0o100644, atime: 3, mtime: 4 })
      .finish();
    assert.equal(buf.readUInt32BE(0), buf.length - 4);
    assert.equal(buf[4], FXP.NAME);
    const r = new PacketReader(buf, 5);
    assert.equal(r.u8(), 7);
    assert.equal(r.u32(), 0xdeadbeef);
    assert.equal(r.u64(), 2 ** 53 - 1);
    assert.equal(r.u64(), 0x1_2345_6789);
    assert.equal(r.utf8(), 'héllo');
    assert.deepEqual(r.bytes(), big);
    assert.deepEqual(r.attrs(), { size: 5e12, uid: 1, gid: 2, permissions: 0o100644, atime: 3, mtime: 4 });
    assert.equal(r.remaining, 0);
  });

  it('writes only the attribute groups that are present', () => {
    const buf = new PacketWriter(FXP.ATTRS).attrs({ permissions: 0o755 }).finish();
    const r = new PacketReader(buf, 5);
    assert.equal(r.u32(), ATTR.PERMISSIONS);
    assert.equal(r.u32(), 0o755);
    assert.equal(r.remaining, 0);
  });

  it('strings are zero-copy slices of the packet', () => {
    const buf = new PacketWriter(FXP.WRITE).string(Buffer.from('data')).finish();
    const s = new PacketReader(buf, 5).bytes();
    assert.equal(s.buffer, buf.buffer);
  });

  it('throws PacketError on every kind of truncation', () => {
    const cases: Array<[string, Buffer, (r: PacketReader) => unknown]> = [
      ['u8', Buffer.alloc(0), (r) => r.u8()],
      ['u32', Buffer.alloc(3), (r) => r.u32()],
      ['u64', Buffer.alloc(7), (r) => r.u64()],
      ['string length', Buffer.from([0, 0, 0]), (r) => r.bytes()],
      ['string body', Buffer.from([0, 0, 0, 5, 1, 2]), (r) => r.bytes()],
      ['huge string', Buffer.from([0xff, 0xff, 0xff, 0xff, 1]), (r) => r.bytes()],
      ['attrs size', Buffer.from([0, 0, 0, 1, 0, 0]), (r) => r.attrs()],
      ['attrs ext count', Buffer.from([0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), (r) => r.attrs()],
    ];
    for (const [name, buf, f] of cases) {
      assert.throws(() => f(new PacketReader(buf)), PacketError, name);
    }
  });

  it('refuses uint64 values that a JS number cannot hold exactly', () => {
    const buf = Buffer.from([0x00, 0x20, 0, 0, 0, 0, 0, 0]);
    assert.throws(() => new PacketReader(buf).u64(), PacketError);
  });

  it('respects an explicit end inside a larger buffer', () => {
    const r = new PacketReader(Buffer.from([0, 0, 0, 1, 9, 9, 9, 9]), 0, 4);
    assert.equal(r.u32(), 1);
    assert.throws(() => r.u8(), PacketError);
  });
});

describe('replies', () => {
  it('STATUS carries code, message and an empty language tag', () => {
    const r = new PacketReader(statusReply(42, FX.NO_SUCH_FILE), 4);
    assert.equal(r.u8(), FXP.STATUS);
    assert.equal(r.u32(), 42);
    assert.equal(r.u32(), FX.NO_SUCH_FILE);
    assert.equal(r.utf8(), 'No such file');
    assert.equal(r.utf8(), '');
  });

  it('DATA is finished in place around bytes read behind the header', () => {
    const buf = Buffer.alloc(DATA_HEADER + 10);
    buf.write('abc', DATA_HEADER);
    const out = finishDataReply(buf, 7, 3);
    assert.equal(out.length, DATA_HEADER + 3);
    const r = new PacketReader(out, 4);
    assert.equal(r.u8(), FXP.DATA);
    assert.equal(r.u32(), 7);
    assert.equal(r.utf8(), 'abc');
    assert.equal(out.readUInt32BE(0), out.length - 4);
  });
});

describe('PacketFramer', () => {
  const packets = [
    new PacketWriter(FXP.INIT).u32(3).finish(),
    new PacketWriter(FXP.OPEN).u32(1).string('x'.repeat(300)).finish(),
    new PacketWriter(FXP.CLOSE).u32(2).string('h').finish(),
  ];
  const stream = Buffer.concat(packets);

  it('reassembles packets fed one byte at a time', () => {
    const f = new PacketFramer(1024);
    const got: Buffer[] = [];
    for (const byte of stream) {
      f.push(Buffer.from([byte]));
      for (let p = f.next(); p; p = f.next()) {
        assert.equal(p.kind, 'packet');
        if (p.kind === 'packet') got.push(Buffer.from(p.body));
      }
    }
    assert.deepEqual(got, packets.map((p) => p.subarray(4)));
    assert.equal(f.bufferedBytes, 0);
  });

  it('returns slices without copying when a packet sits in one chunk (of the sizes WRITEs come in)', () => {
    const big = Buffer.concat([new PacketWriter(FXP.WRITE).u32(9).string('h').u64(0).string(Buffer.alloc(32 * 1024, 1)).finish(), stream]);
    const f = new PacketFramer(64 * 1024);
    f.push(big);
    const p = f.next();
    assert.ok(p && p.kind === 'packet');
    assert.equal(p.body.buffer, big.buffer);
  });

  it('copies small chunks together: a packet trickled byte by byte is held in a few buffers', () => {
    const f = new PacketFramer(256 * 1024);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(200 * 1024);
    f.push(head);
    for (let i = 0; i < 100_000; i++) f.push(Buffer.from([6]));
    assert.equal(f.next(), null);
    assert.ok(f.chunkCount <= 8, `${f.chunkCount} buffers for 100,004 bytes`);
    const rest = Buffer.alloc(200 * 1024 - 100_000, 7);
    f.push(rest);
    const p = f.next();
    assert.ok(p && p.kind === 'packet');
    assert.equal(p.body.length, 200 * 1024);
    assert.ok(p.body.subarray(0, 100_000).every((b) => b === 6) && p.body.subarray(100_000).every((b) => b === 7));
    assert.equal(f.bufferedBytes, 0);
  });

  it('flags lengths of zero and above the maximum', () => {
    for (const len of [0, 1025, 0xffffffff]) {
      const f = new PacketFramer(1024);
      const b = Buffer.alloc(8);
      b.writeUInt32BE(len, 0);
      f.push(b);
      assert.deepEqual(f.next(), { kind: 'bad-length', length: len });
    }
  });

  it('waits for the rest of a packet', () => {
    const f = new PacketFramer(1024);
    f.push(stream.subarray(0, 6));
    assert.equal(f.next(), null);
    f.push(stream.subarray(6, 20));
    assert.equal(f.next()?.kind, 'packet');
    assert.equal(f.next(), null); // the OPEN packet is only partly there
    f.push(stream.subarray(20));
    assert.equal(f.next()?.kind, 'packet');
    assert.equal(f.next()?.kind, 'packet');
    assert.equal(f.next(), null);
  });
});

describe('statusOf', () => {
  it('maps errno codes like OpenSSH and never passes Node messages (they hold paths)', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file, open '/secret/host/path'"), { code: 'ENOENT' });
    assert.deepEqual(statusOf(enoent), { code: FX.NO_SUCH_FILE });
    assert.equal(statusOf(errnoError('EACCES', 'x')).code, FX.PERMISSION_DENIED);
    assert.equal(statusOf(errnoError('EJAIL', 'x')).code, FX.PERMISSION_DENIED);
    assert.deepEqual(statusOf(errnoError('ELOOP', '/host/path')), { code: FX.NO_SUCH_FILE, message: 'Too many levels of symbolic links' });
    assert.equal(statusOf(errnoError('EINVAL', 'x')).code, FX.BAD_MESSAGE);
    assert.deepEqual(statusOf(errnoError('EEXIST', '/host/path')), { code: FX.FAILURE, message: 'File exists' });
    assert.deepEqual(statusOf(errnoError('EWHATEVER', '/host/path')), { code: FX.FAILURE, message: undefined });
    assert.deepEqual(statusOf(new PacketError('x')), { code: FX.BAD_MESSAGE });
    assert.deepEqual(statusOf(new SftpStatusError(FX.EOF)), { code: FX.EOF, message: undefined });
    assert.deepEqual(statusOf(new TypeError('boom')), { code: FX.FAILURE });
  });
});
