// A read-only user (`permissions: read-only`) tries every write there is with the real clients
// (OpenSSH sftp, PuTTY psftp, paramiko) and raw requests, in proxy mode (the route hash in Redis,
// an OpenSSH upstream) and in local mode (a users file; the solt hash in Redis): each is denied
// with PERMISSION_DENIED, the files on disk do not change, the upstream never sees the request,
// each denial is one audit line, and reading still works.
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LogLine } from '../harness/index.js';
import { FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { openssh, paramiko, psftp, raw, type ParamikoOp } from './clients.js';
import { snapshot } from './disk.js';
import { auditLines, startTarget, type PolicyTarget, type PolicyUser } from './targets.js';
import { upstreamMark, upstreamRequests, writesAmong } from './upstream-requests.js';

const CONTENT = 'the original content\n';

async function seed(dir: string): Promise<void> {
  await writeFile(join(dir, 'existing.txt'), CONTENT);
  await mkdir(join(dir, 'emptydir'));
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'inner.txt'), 'inner\n');
  await symlink('existing.txt', join(dir, 'link-to-existing'));
}

/**
 * Runs `attempt` as `u` and checks what a denial must leave behind: the disk as it was, no write
 * at the upstream, and exactly `denied` (request names, in order) as audit `denied` lines.
 */
async function expectDenied(t: PolicyTarget, u: PolicyUser, denied: string[], attempt: () => Promise<void>): Promise<LogLine[]> {
  const before = await snapshot(u.dir);
  const mark = t.mark();
  const upMark = await upstreamMark(u);
  await attempt();
  assert.deepEqual(await snapshot(u.dir), before, 'the files on disk changed');
  if (t.mode === 'proxy') {
    const reqs = await upstreamRequests(u, upMark);
    assert.ok(reqs.length > 0, 'the upstream log shows no requests at all: is it written?');
    assert.deepEqual(writesAmong(reqs), [], 'a denied request reached the upstream');
  }
  // Audit lines are written as the replies go out: the last one is there when the client saw it.
  const lines = auditLines(t, mark).filter((l) => l.event === 'denied');
  assert.deepEqual(lines.map((l) => l.request), denied, 'the audit denied lines');
  for (const l of lines) {
    assert.equal(l.user, u.name);
    assert.match(String(l.remote), /^127\.0\.0\.1:\d+$/);
    assert.equal(l.ok, false);
    assert.equal(l.status, FX.PERMISSION_DENIED);
    assert.equal(typeof l.missing, 'string');
    assert.ok(l.path !== undefined || (l.from !== undefined && l.to !== undefined) || String(l.request).includes('bogus') || l.request === 'type 50'
      || ['write', 'fsetstat', 'fsync', 'copy-data'].includes(String(l.request)), `no path in ${JSON.stringify(l)}`);
  }
  return lines;
}

const setups = [
  { label: 'proxy mode (route hash in Redis, OpenSSH upstream)', mode: 'proxy' as const, store: undefined },
  { label: 'local mode (users file)', mode: 'local' as const, store: 'file' as const },
  { label: 'local mode (solt hash in Redis)', mode: 'local' as const, store: 'solt' as const },
];

for (const setup of setups) {
  describe(`read-only user, ${setup.label}`, () => {
    let t: PolicyTarget;
    let ro: PolicyUser;
    let cwd: string;
    before(async () => {
      t = await startTarget(setup.mode, { ro: { permissions: 'read-only' }, writer: { permissions: 'list,download,mkdir' } }, { store: setup.store });
      ro = t.user('ro');
      await seed(ro.dir);
      cwd = join(t.tmp, 'client');
      await mkdir(cwd);
      await writeFile(join(cwd, 'local.txt'), 'local content that must not land\n');
    });
    after(() => t?.close());

    // The solt variant shows the field is read from there; the clients are the same as above.
    const full = setup.store !== 'solt';

    if (full) test('OpenSSH sftp: put, reput, rm, rename (posix-rename), mkdir, rmdir, chmod, chmod -h, chown, symlink, ln, ln -s, cp', async () => {
      const writes: Array<[string, string]> = [
        ['put local.txt new.txt', 'open'], ['put local.txt existing.txt', 'open'], ['reput local.txt existing.txt', 'open'],
        ['rm existing.txt', 'remove'], ['rename existing.txt moved.txt', 'posix-rename'], ['mkdir newdir', 'mkdir'],
        ['rmdir emptydir', 'rmdir'], ['chmod 600 existing.txt', 'setstat'], ['chmod -h 600 link-to-existing', 'lsetstat'],
        ['chown 0 existing.txt', 'setstat'], ['symlink existing.txt link', 'symlink'], ['ln existing.txt hard', 'hardlink'],
        ['ln -s existing.txt link2', 'symlink'], ['cp existing.txt copy.txt', 'open'],
      ];
      let res!: Awaited<ReturnType<typeof openssh>>;
      await expectDenied(t, ro, writes.map((w) => w[1]), async () => {
        res = await openssh(t, ro, [...writes.map((w) => w[0]), 'get existing.txt got.txt', 'ls -1'], cwd);
      });
      const denials = res.stderr.split('\n').filter((l) => /Permission denied/.test(l));
      assert.equal(denials.length, writes.length, `each command denied:\n${res.stderr}`);
      assert.equal(await readFile(join(cwd, 'got.txt'), 'utf8'), CONTENT, 'get still works');
      assert.match(res.stdout, /existing\.txt/, 'ls still works');
    });

    if (full) test('psftp: put, reput, rm, mv, mkdir, rmdir, chmod', async () => {
      const writes: Array<[string, string]> = [
        ['put local.txt new.txt', 'open'], ['reput local.txt existing.txt', 'open'], ['rm existing.txt', 'remove'],
        ['mv existing.txt moved.txt', 'rename'], ['mkdir newdir', 'mkdir'], ['rmdir emptydir', 'rmdir'], ['chmod 600 existing.txt', 'setstat'],
      ];
      let res!: Awaited<ReturnType<typeof psftp>>;
      await expectDenied(t, ro, writes.map((w) => w[1]), async () => {
        res = await psftp(t, ro, [...writes.map((w) => w[0]), 'get existing.txt got-psftp.txt'], cwd);
      });
      const text = `${res.stdout}\n${res.stderr}`;
      assert.equal(text.split('\n').filter((l) => /permission denied/i.test(l)).length, writes.length, `each command denied:\n${text}`);
      assert.equal(await readFile(join(cwd, 'got-psftp.txt'), 'utf8'), CONTENT, 'get still works');
    });

    test('paramiko: put, open for writing (w, a, r+, x), posix_rename, rename, remove, mkdir, rmdir, chmod, chown, utime, truncate, symlink', async () => {
      const writes: Array<[ParamikoOp, string]> = [
        [{ op: 'put', local: join(cwd, 'local.txt'), remote: 'new.txt' }, 'open'],
        [{ op: 'open', path: 'existing.txt', mode: 'w', data: 'x' }, 'open'],
        [{ op: 'open', path: 'existing.txt', mode: 'a', data: 'x' }, 'open'],
        [{ op: 'open', path: 'existing.txt', mode: 'r+', data: 'x' }, 'open'],
        [{ op: 'open', path: 'brand-new.txt', mode: 'x', data: 'x' }, 'open'],
        [{ op: 'posix_rename', from: 'existing.txt', to: 'moved.txt' }, 'posix-rename'],
        [{ op: 'rename', from: 'existing.txt', to: 'moved.txt' }, 'rename'],
        [{ op: 'remove', path: 'existing.txt' }, 'remove'],
        [{ op: 'mkdir', path: 'newdir' }, 'mkdir'],
        [{ op: 'rmdir', path: 'emptydir' }, 'rmdir'],
        [{ op: 'chmod', path: 'existing.txt', mode: 0o600 }, 'setstat'],
        [{ op: 'chown', path: 'existing.txt', uid: 0, gid: 0 }, 'setstat'],
        [{ op: 'utime', path: 'existing.txt', time: 1_000_000 }, 'setstat'],
        [{ op: 'truncate', path: 'existing.txt', size: 0 }, 'setstat'],
        [{ op: 'symlink', target: 'existing.txt', path: 'link3' }, 'symlink'],
      ];
      let results!: Awaited<ReturnType<typeof paramiko>>;
      const lines = await expectDenied(t, ro, writes.map((w) => w[1]), async () => {
        results = await paramiko(t, ro, [...writes.map((w) => w[0]), { op: 'read', path: 'existing.txt' }, { op: 'listdir', path: '.' }, { op: 'stat', path: 'sub/inner.txt' }]);
      });
      for (let i = 0; i < writes.length; i++) {
        assert.deepEqual([results[i]!.op, results[i]!.ok, results[i]!.errno], [writes[i]![0].op, false, 13], JSON.stringify(results[i]));
      }
      const [read, list, stat] = results.slice(writes.length);
      assert.deepEqual([read!.ok, read!.value], [true, CONTENT]);
      assert.deepEqual(list!.value, ['emptydir', 'existing.txt', 'link-to-existing', 'sub']);
      assert.equal(stat!.value, 6);
      // What each denial says the user lacks.
      assert.deepEqual(lines.map((l) => l.missing), [
        'upload', 'upload', 'upload', 'upload', 'upload', 'rename', 'rename', 'delete', 'mkdir', 'delete', 'chmod', 'chmod', 'chmod or upload', 'upload', 'symlink',
      ]);
      assert.deepEqual(lines.slice(5, 7).map((l) => [l.from, l.to]), [['existing.txt', 'moved.txt'], ['existing.txt', 'moved.txt']]);
    });

    test('raw requests: WRITE, FSETSTAT, fsync and copy-data on a read handle, hardlink, lsetstat, every OPEN flag that writes, an unknown extension and type', async () => {
      const s = await raw(t, ro);
      try {
        const c = s.sftp;
        const opened = await c.open('existing.txt', FXF.READ);
        assert.ok(opened.handle, `open for reading: ${opened.code}`);
        const h = opened.handle;
        const writes: Array<[() => Promise<{ code?: number; type: number }>, string]> = [
          [() => c.write(h, 0, Buffer.from('HACKED')), 'write'],
          [() => c.fsetstat(h, { permissions: 0o600 }), 'fsetstat'],
          [() => c.fsetstat(h, { size: 0 }), 'fsetstat'],
          [() => c.extended('fsync@openssh.com', (w) => w.string(h)), 'fsync'],
          [() => c.extended('copy-data', (w) => w.string(h).u64(0).u64(0).string(h).u64(100)), 'copy-data'],
          [() => c.extended('hardlink@openssh.com', (w) => w.string('existing.txt').string('hard')), 'hardlink'],
          [() => c.extended('lsetstat@openssh.com', (w) => w.string('existing.txt').u32(8).u32(1000).u32(1000)), 'lsetstat'],
          [() => c.extended('posix-rename@openssh.com', (w) => w.string('existing.txt').string('sub/inner.txt')), 'posix-rename'],
          [() => c.rename('existing.txt', 'moved.txt'), 'rename'],
          [() => c.remove('sub/inner.txt'), 'remove'],
          [() => c.symlink('existing.txt', 'ln'), 'symlink'],
          [() => c.mkdir('made'), 'mkdir'],
          [() => c.rmdir('emptydir'), 'rmdir'],
          [() => c.setstat('existing.txt', { atime: 1, mtime: 1 }), 'setstat'],
          ...[FXF.WRITE, FXF.APPEND, FXF.CREAT, FXF.TRUNC, FXF.READ | FXF.WRITE, FXF.CREAT | FXF.EXCL, FXF.WRITE | FXF.CREAT | FXF.TRUNC | FXF.EXCL]
            .map((flags) => [() => c.open('existing.txt', flags), 'open'] as [() => Promise<{ code?: number; type: number }>, string]),
          [() => c.extended('bogus@example.com', (w) => w.string('x')), 'bogus@example.com'],
          [() => c.request(50, (w) => w.string('x')), 'type 50'],
        ];
        await expectDenied(t, ro, writes.map((w) => w[1]), async () => {
          for (const [send, name] of writes) {
            const r = await send();
            assert.deepEqual([r.type, r.code], [FXP.STATUS, FX.PERMISSION_DENIED], `${name} was not denied`);
          }
          // Reading, listing and asking about paths still work on the same session.
          assert.equal((await c.read(h, 0, 100)).data?.toString(), CONTENT);
          assert.equal((await c.stat('sub/inner.txt')).attrs?.size, 6);
          assert.equal((await c.lstat('link-to-existing')).type, FXP.ATTRS);
          assert.equal((await c.readlink('link-to-existing')).names?.[0]?.name, 'existing.txt');
          assert.equal((await c.realpath('.')).type, FXP.NAME);
          assert.equal((await c.extended('statvfs@openssh.com', (w) => w.string('.'))).type, FXP.EXTENDED_REPLY);
          assert.ok((await c.list('sub')).some((n) => n.name === 'inner.txt'), 'listing works');
          assert.equal((await c.close(h)).code, FX.OK);
        });
      } finally {
        s.end();
      }
    });

    test('an unknown extension is passed for a user with a write permission (the server answers it)', async () => {
      const s = await raw(t, t.user('writer'));
      try {
        const r = await s.sftp.extended('bogus@example.com', (w) => w.string('x'));
        assert.deepEqual([r.type, r.code], [FXP.STATUS, FX.OP_UNSUPPORTED]);
        const ro2 = await raw(t, ro);
        try {
          assert.equal((await ro2.sftp.extended('bogus@example.com', (w) => w.string('x'))).code, FX.PERMISSION_DENIED);
        } finally {
          ro2.end();
        }
      } finally {
        s.end();
      }
    });
  });
}
