// Files passing through the SFTP filter arrive as the same bytes (sha256, on the upstream's disk
// and back at the client), at sizes around the packet and request boundaries, with OpenSSH sftp
// and paramiko, with and without a start directory (the route's `home`), for a user with every
// permission and for a restricted one (whose uploads go through the probe).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256File, writeRandomFile } from '../harness/index.js';
import { openssh, paramiko } from './clients.js';
import { startTarget, type PolicyTarget } from './targets.js';

// Empty, one byte, either side of 32 KiB (a channel packet, an SFTP read), OpenSSH's 255 KiB
// requests, and a few MiB of odd length.
const SIZES = [0, 1, 32_767, 32_768, 32_769, 261_120, 262_145, 5_000_003];

describe('byte identity through the SFTP filter', () => {
  let t: PolicyTarget;
  let cwd: string;
  const sums = new Map<number, string>();
  before(async () => {
    t = await startTarget('proxy', { all: {}, homed: { home: 'start/here' }, drop: { permissions: 'list,upload,download' } });
    cwd = join(t.tmp, 'client');
    await mkdir(cwd);
    for (const n of SIZES) sums.set(n, await writeRandomFile(join(cwd, `f${n}.bin`), n));
  });
  after(() => t?.close());

  for (const name of ['all', 'homed', 'drop']) {
    test(`OpenSSH sftp and paramiko, user ${name}: every size up and back unchanged`, async () => {
      const u = t.user(name);
      const mark = t.mark();
      const batch = SIZES.flatMap((n) => [`put f${n}.bin up${n}.bin`, `get up${n}.bin ${name}-back${n}.bin`]);
      const res = await openssh(t, u, batch, cwd);
      assert.equal(res.code, 0, res.stderr);
      // paramiko sends relative paths as they are unless it knows a directory: ask for the start.
      const ops = [{ op: 'chdir', path: '.' }, ...SIZES.flatMap((n) => [
        { op: 'put', local: join(cwd, `f${n}.bin`), remote: `pm${n}.bin` },
        { op: 'get', remote: `pm${n}.bin`, local: join(cwd, `${name}-pm-back${n}.bin`) },
      ])];
      const results = await paramiko(t, u, ops);
      assert.ok(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)));
      for (const n of SIZES) {
        const want = sums.get(n);
        // u.dir is the start directory (home, when the route has one): relative names land there.
        assert.equal(await sha256File(join(u.dir, `up${n}.bin`)), want, `sftp upload of ${n} bytes`);
        assert.equal(await sha256File(join(cwd, `${name}-back${n}.bin`)), want, `sftp download of ${n} bytes`);
        assert.equal(await sha256File(join(u.dir, `pm${n}.bin`)), want, `paramiko upload of ${n} bytes`);
        assert.equal(await sha256File(join(cwd, `${name}-pm-back${n}.bin`)), want, `paramiko download of ${n} bytes`);
      }
      // The session-end lines count the file bytes that went each way.
      const total = SIZES.reduce((a, n) => a + n, 0);
      const ends = () => t.logs(mark).filter((l) => l.msg === 'session end' && l.user === name);
      for (const deadline = Date.now() + 5000; ends().length < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
      assert.equal(results[0]!.value, u.dir, 'paramiko starts in the start directory');
      // OpenSSH's session ends first (the test waits for it) and reads each byte once: exact.
      const [sftpEnd, paramikoEnd] = ends().map((l) => [Number(l.bytesUp), Number(l.bytesDown)]);
      assert.deepEqual(sftpEnd, [total, total], 'OpenSSH sftp session: bytes up, down');
      // paramiko 2.12's prefetch can race with itself (a reply handled before its thread recorded
      // the next request ends the prefetch, and the file's remaining chunks are read again): its
      // downloads may count more than once, never less.
      assert.equal(paramikoEnd![0], total, 'paramiko session: bytes up');
      assert.ok(paramikoEnd![1]! >= total && paramikoEnd![1]! <= 2 * total, `paramiko session: ${paramikoEnd![1]} bytes down, want ${total}..${2 * total}`);
    });
  }
});

describe('--sftp-filter off: bytes piped blind', () => {
  let t: PolicyTarget;
  let cwd: string;
  before(async () => {
    t = await startTarget('proxy', { homed: { home: 'start' }, ro: { permissions: 'read-only' } }, { args: ['--sftp-filter', 'off'] });
    cwd = join(t.tmp, 'client');
    await mkdir(cwd);
  });
  after(() => t?.close());

  test('transfers are byte-identical, the start directory applies, no audit lines; a restricted user is refused', async () => {
    const u = t.user('homed');
    const sum = await writeRandomFile(join(cwd, 'f.bin'), 5_000_003);
    const mark = t.mark();
    const res = await openssh(t, u, ['put f.bin up.bin', 'get up.bin back.bin'], cwd);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await sha256File(join(u.dir, 'up.bin')), sum);
    assert.equal(await sha256File(join(cwd, 'back.bin')), sum);
    const ro = await openssh(t, t.user('ro'), ['ls'], cwd);
    assert.notEqual(ro.code, 0, 'a read-only user logged in through a filter that cannot enforce it');
    const refused = await t.waitFor((l) => String(l.msg).startsWith('login refused') && l.user === 'ro', mark);
    assert.match(String(refused.reason), /--sftp-filter off/);
    assert.deepEqual(t.logs(mark).filter((l) => l.msg === 'audit'), []);
  });
});
