// Issue #11, 4: names were decoded as UTF-8, so a name with byte 0xE9 (Latin-1 "é") was stored
// as U+FFFD and host files with Latin-1 names were listed under a name that could not be opened.
// Names are bytes end to end now, as OpenSSH's server keeps them.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { startSession, stopSession, tempDir, type TestSession } from '../sftp/harness.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');
/** Names on the real disk, as bytes. */
const onDisk = (dir: string) => readdirSync(dir, { encoding: 'buffer' }).map((b) => b.toString('hex')).sort();
const hex = (...names: Buffer[]) => names.map((b) => b.toString('hex')).sort();

describe('file names that are not UTF-8', () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestSession;
  const host = (...names: Buffer[]) => Buffer.concat([Buffer.from(`${tmp.path}/`), ...names.flatMap((n, i) => (i ? [Buffer.from('/'), n] : [n]))]);

  beforeEach(async () => {
    tmp = tempDir('hostile-bytes-');
    t = await startSession(tmp.path);
  });
  afterEach(async () => {
    await stopSession(t);
    tmp.cleanup();
  });

  it('a host file with a Latin-1 name is listed with its bytes, and opens by the name listed', async () => {
    const name = latin1('caf\xe9.txt');
    writeFileSync(host(name), 'coffee');
    mkdirSync(host(latin1('r\xe9p')));
    writeFileSync(host(latin1('r\xe9p'), latin1('\xfc')), 'u');
    const listed = await t.client.list('/');
    const entry = listed.find((e) => e.nameBytes.equals(name));
    assert.ok(entry, `listed: ${listed.map((e) => e.nameBytes.toString('hex')).join(' ')}`);
    assert.ok(entry.longnameBytes.subarray(-name.length).equals(name), 'the ls -l line ends with the same bytes');
    assert.equal((await t.client.readFile(entry.nameBytes)).toString(), 'coffee');
    assert.equal((await t.client.stat(entry.nameBytes)).attrs!.size, 6);
    // Deeper, and as REALPATH answers it.
    const dir = listed.find((e) => e.nameBytes.equals(latin1('r\xe9p')))!;
    const inner = (await t.client.list(dir.nameBytes)).find((e) => e.name !== '.' && e.name !== '..')!;
    assert.ok(inner.nameBytes.equals(latin1('\xfc')));
    const full = Buffer.concat([dir.nameBytes, Buffer.from('/'), inner.nameBytes]);
    assert.equal((await t.client.readFile(full)).toString(), 'u');
    assert.ok((await t.client.realpath(full)).names![0]!.nameBytes.equals(Buffer.concat([Buffer.from('/'), full])));
  });

  it('a name created with byte 0xE9 lands on disk as that byte, whatever the operation', async () => {
    const c = t.client;
    const file = latin1('new\xe9');
    const h = await c.open(file, FXF.WRITE | FXF.CREAT);
    assert.equal(h.type, FXP.HANDLE);
    assert.equal((await c.write(h.handle!, 0, Buffer.from('data'))).code, FX.OK);
    await c.close(h.handle!);
    assert.equal((await c.mkdir(latin1('d\xe9'))).code, FX.OK);
    assert.equal((await c.rename(file, latin1('moved\xe9'))).code, FX.OK);
    assert.equal((await c.symlink(latin1('moved\xe9'), latin1('link\xe9'))).code, FX.OK);
    assert.deepEqual(onDisk(tmp.path), hex(latin1('d\xe9'), latin1('moved\xe9'), latin1('link\xe9')));
    assert.equal(readFileSync(host(latin1('moved\xe9')), 'utf8'), 'data');
    assert.ok(readlinkSync(host(latin1('link\xe9')), { encoding: 'buffer' }).equals(latin1('moved\xe9')));
    const target = await c.readlink(latin1('link\xe9'));
    assert.ok(target.names![0]!.nameBytes.equals(latin1('moved\xe9')), 'READLINK gives the bytes back');
    assert.equal((await c.readFile(latin1('link\xe9'))).toString(), 'data');
    assert.equal((await c.remove(latin1('moved\xe9'))).code, FX.OK);
    assert.equal((await c.rmdir(latin1('d\xe9'))).code, FX.OK);
    assert.deepEqual(onDisk(tmp.path), hex(latin1('link\xe9')));
  });

  it('names that are valid UTF-8 are unchanged (é as two bytes)', async () => {
    symlinkSync('caf\u00e9', join(tmp.path, 'to-cafe'));
    const h = await t.client.open('caf\u00e9', FXF.WRITE | FXF.CREAT);
    await t.client.close(h.handle!);
    assert.deepEqual(onDisk(tmp.path).sort(), hex(Buffer.from('caf\u00e9'), Buffer.from('to-cafe')));
    assert.equal((await t.client.readlink('to-cafe')).names![0]!.name, 'caf\u00e9');
    assert.ok((await t.client.list('/')).some((e) => e.name === 'caf\u00e9'));
  });
});
