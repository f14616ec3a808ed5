// decide(): every request type and extension against each permission word, as the README's table
// says (what a word allows), plus the requests that need a probe and how they go on after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePermissions, type Permissions } from '../../src/policy/permissions.js';
import { decide } from '../../src/policy/sftp-policy.js';
import { ATTR, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { decodeRequest } from '../../src/sftp/protocol/requests.js';

const perms = (text: string): Permissions => {
  const p = parsePermissions(text);
  assert.ok(p.ok);
  return p.permissions;
};

const h = Buffer.from([0, 0, 0, 1]);
const body = (type: number, build: (w: PacketWriter) => void = () => undefined): Buffer => {
  const w = new PacketWriter(type, 64).u32(7);
  build(w);
  return w.finish().subarray(4);
};
const ext = (name: string, build: (w: PacketWriter) => void = () => undefined): Buffer => body(FXP.EXTENDED, (w) => { w.string(name); build(w); });
const open = (flags: number): Buffer => body(FXP.OPEN, (w) => w.string('f').u32(flags).u32(0));
const setstat = (attrFlags: number): Buffer => body(FXP.SETSTAT, (w) => {
  w.string('f').u32(attrFlags);
  if (attrFlags & ATTR.SIZE) w.u64(0);
  if (attrFlags & ATTR.UIDGID) w.u32(0).u32(0);
  if (attrFlags & ATTR.PERMISSIONS) w.u32(0o600);
  if (attrFlags & ATTR.ACMODTIME) w.u32(1).u32(1);
});

/** Each request and the one word (alone) that allows it; null: allowed to everyone. */
const ROWS: Array<[string, Buffer, string | null]> = [
  ['stat', body(FXP.STAT, (w) => w.string('f')), null],
  ['lstat', body(FXP.LSTAT, (w) => w.string('f')), null],
  ['fstat', body(FXP.FSTAT, (w) => w.string(h)), null],
  ['realpath', body(FXP.REALPATH, (w) => w.string('.')), null],
  ['readlink', body(FXP.READLINK, (w) => w.string('l')), null],
  ['close', body(FXP.CLOSE, (w) => w.string(h)), null],
  ['statvfs', ext('statvfs@openssh.com', (w) => w.string('.')), null],
  ['limits', ext('limits@openssh.com'), null],
  ['expand-path', ext('expand-path@openssh.com', (w) => w.string('~')), null],
  ['opendir', body(FXP.OPENDIR, (w) => w.string('.')), 'list'],
  ['readdir', body(FXP.READDIR, (w) => w.string(h)), 'list'],
  ['open READ', open(FXF.READ), 'download'],
  ['read', body(FXP.READ, (w) => w.string(h).u64(0).u32(10)), 'download'],
  ['open WRITE|CREAT|EXCL', open(FXF.WRITE | FXF.CREAT | FXF.EXCL), 'upload'],
  ['write', body(FXP.WRITE, (w) => w.string(h).u64(0).string('x')), 'upload'],
  ['fsync', ext('fsync@openssh.com', (w) => w.string(h)), 'upload'],
  ['copy-data', ext('copy-data', (w) => w.string(h).u64(0).u64(0).string(h).u64(0)), 'upload'],
  ['remove', body(FXP.REMOVE, (w) => w.string('f')), 'delete'],
  ['rmdir', body(FXP.RMDIR, (w) => w.string('d')), 'delete'],
  ['rename', body(FXP.RENAME, (w) => w.string('a').string('b')), 'rename'],
  ['mkdir', body(FXP.MKDIR, (w) => w.string('d').u32(0)), 'mkdir'],
  ['symlink', body(FXP.SYMLINK, (w) => w.string('t').string('l')), 'symlink'],
  ['hardlink', ext('hardlink@openssh.com', (w) => w.string('a').string('b')), 'symlink'],
  ['setstat mode', setstat(ATTR.PERMISSIONS), 'chmod'],
  ['setstat owner', setstat(ATTR.UIDGID), 'chmod'],
  ['lsetstat mode', ext('lsetstat@openssh.com', (w) => w.string('f').u32(ATTR.PERMISSIONS).u32(0o600)), 'chmod'],
  ['fsetstat mode', body(FXP.FSETSTAT, (w) => w.string(h).u32(ATTR.PERMISSIONS).u32(0o600)), 'chmod'],
];

const WORDS = ['list', 'download', 'upload', 'overwrite', 'delete', 'rename', 'mkdir', 'symlink', 'chmod'];

test('each request is allowed by exactly the word the table names (and by *), denied by every other word alone', () => {
  for (const [name, b, word] of ROWS) {
    const req = decodeRequest(b);
    assert.equal(decide(req, perms('*')).kind, 'allow', `${name} with *`);
    for (const w of WORDS) {
      const kind = decide(req, perms(w)).kind;
      assert.equal(kind, word === null || word === w ? 'allow' : 'deny', `${name} with ${w}`);
    }
  }
});

test('setting times needs chmod or upload; setting a size needs upload and overwrite', () => {
  const times = decodeRequest(setstat(ATTR.ACMODTIME));
  assert.deepEqual(['chmod', 'upload', 'list'].map((w) => decide(times, perms(w)).kind), ['allow', 'allow', 'deny']);
  const size = decodeRequest(setstat(ATTR.SIZE));
  assert.deepEqual(['upload', 'overwrite', 'upload,overwrite', 'chmod'].map((w) => decide(size, perms(w)).kind), ['deny', 'deny', 'allow', 'deny']);
});

test('writes without overwrite: a probe, and what goes on after it cannot replace a file', () => {
  const drop = perms('list,upload,rename');
  const probe = (b: Buffer) => decide(decodeRequest(b), drop);
  for (const flags of [FXF.WRITE | FXF.CREAT | FXF.TRUNC, FXF.WRITE | FXF.CREAT, FXF.APPEND | FXF.CREAT]) {
    const v = probe(open(flags));
    assert.equal(v.kind, 'probe');
    assert.deepEqual(v.kind === 'probe' && v.unlessExists.kind === 'add-excl' && v.unlessExists.pflags, flags | FXF.EXCL);
  }
  // No CREAT: such an OPEN only opens what exists; EXCL without CREAT is ignored by open(2).
  for (const flags of [FXF.WRITE, FXF.WRITE | FXF.TRUNC, FXF.WRITE | FXF.TRUNC | FXF.EXCL, FXF.APPEND | FXF.EXCL]) {
    const v = probe(open(flags));
    assert.equal(v.kind === 'probe' && v.unlessExists.kind, 'answer-missing', `flags ${flags}`);
  }
  const posix = probe(ext('posix-rename@openssh.com', (w) => w.string('a').string('b')));
  assert.equal(posix.kind === 'probe' && posix.unlessExists.kind, 'posix-to-rename');
  assert.equal(probe(body(FXP.RENAME, (w) => w.string('a').string('b'))).kind, 'allow', 'RENAME never replaces');
  assert.equal(probe(open(FXF.WRITE | FXF.CREAT | FXF.EXCL)).kind, 'allow', 'CREAT|EXCL makes a new file only');
  assert.equal(decide(decodeRequest(open(FXF.WRITE | FXF.TRUNC)), perms('upload,overwrite')).kind, 'allow');
});

test('an extension the table does not know: denied without any write permission, passed with one', () => {
  const unknown = decodeRequest(ext('bogus@example.com'));
  assert.equal(decide(unknown, perms('read-only')).kind, 'deny');
  assert.equal(decide(unknown, perms('list')).kind, 'deny');
  for (const w of ['upload', 'mkdir', 'chmod']) assert.equal(decide(unknown, perms(`read-only,${w}`)).kind, 'allow', w);
  assert.equal(decide(decodeRequest(body(77)), perms('read-only')).kind, 'deny', 'an unknown request type');
});
