// Issue #11, 5: LSTAT of "link/" or "link/." answered for the link itself, so OpenSSH's
// `ls -l /bin/` (with /bin a link to usr/bin) showed the link instead of the directory. As
// POSIX lstat("dir/") does, a path ending in "/" or "/." now names the directory a final link
// leads to, and must be a directory.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { FX, FXF } from '../../src/sftp/protocol/constants.js';
import { productKnownHosts, runSftp } from '../harness/index.js';
import { startSession, stopSession, tempDir, type TestSession } from '../sftp/harness.js';
import { startLocalProduct, type LocalProduct } from './local-product.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** A folder like a system's: /usr/bin with a program, /bin -> usr/bin, a link to a file. */
function populate(root: string): void {
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'usr/bin/ls'), 'elf');
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('usr/bin/ls', join(root, 'flink'));
  writeFileSync(join(root, 'plain'), 'p');
}

describe('LSTAT and lsetstat of a path ending in "/" (raw requests)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestSession;
  beforeEach(async () => {
    tmp = tempDir('hostile-slash-');
    populate(tmp.path);
    t = await startSession(tmp.path);
  });
  afterEach(async () => {
    await stopSession(t);
    tmp.cleanup();
  });

  it('"link/" and "link/." are the directory the link leads to; "link" is still the link', async () => {
    const type = async (p: string) => (await t.client.lstat(p)).attrs!.permissions! & S_IFMT;
    assert.equal(await type('bin'), S_IFLNK);
    for (const p of ['bin/', 'bin/.', '/bin/', 'bin//', 'bin/./', 'usr/bin/']) assert.equal(await type(p), S_IFDIR, p);
    assert.equal((await t.client.lstat('bin/')).attrs!.mtime, Math.floor(statSync(join(tmp.path, 'usr/bin')).mtimeMs / 1000));
  });

  it('a trailing "/" on something that is no directory is an error (ENOTDIR), and on nothing too', async () => {
    for (const p of ['plain/', 'plain/.', 'flink/', 'missing/']) assert.equal((await t.client.lstat(p)).code, FX.NO_SUCH_FILE, p);
    assert.equal((await t.client.open('fresh/', FXF.WRITE | FXF.CREAT)).code, FX.FAILURE, 'no file made from "fresh/"');
    assert.equal((await t.client.mkdir('fresh/')).code, FX.OK, 'but a directory may be');
    assert.ok(statSync(join(tmp.path, 'fresh')).isDirectory());
  });

  it('lsetstat of "link/" changes the directory, never the link', async () => {
    const linkBefore = lstatSync(join(tmp.path, 'bin')).mtimeMs;
    const r = await t.client.extended('lsetstat@openssh.com', (w) => w.string('bin/').attrs({ atime: 1000, mtime: 2000 }));
    assert.equal(r.code, FX.OK);
    assert.equal(statSync(join(tmp.path, 'usr/bin')).mtimeMs, 2000_000);
    assert.equal(lstatSync(join(tmp.path, 'bin')).mtimeMs, linkBefore);
  });
});

describe('OpenSSH sftp `ls -l /bin/` through the product', () => {
  let p: LocalProduct;
  before(async () => {
    p = await startLocalProduct(['dora']);
    populate(p.folder('dora'));
  });
  after(async () => p?.close());

  it('lists the directory the link leads to, not the link', async () => {
    const knownHosts = await productKnownHosts(p.tmp.path, join(p.tmp.path, 'data'), p.proxy.port);
    const r = await runSftp({ port: p.proxy.port, user: 'dora', keyPath: p.key('dora').privatePath, knownHostsPath: knownHosts,
      batch: ['ls -l /bin/'], timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => /^[-dl][rwx-]{9}/.test(l));
    assert.equal(lines.length, 1, r.stdout);
    assert.match(lines[0]!, /^-rw-r--r-- .* ls$/, 'the program in usr/bin');
  });
});
