// Users who may upload but not everything else, in both modes with the real clients:
// - upload-only (`upload`): new files land, but nothing can be listed or downloaded;
// - a drop box (`list,upload`, no `overwrite`): new files land, an existing file cannot be
//   replaced (put, reput, open for writing, posix-rename onto it), and the OPEN that goes on after
//   the proxy's "does it exist?" probe carries EXCL, so a file made in between is not replaced
//   either (shown with the real race: the upstream and the proxy held still with SIGSTOP).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { descendants, parentPid } from '../harness/index.js';
import { FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { openssh, paramiko, psftp, raw } from './clients.js';
import { auditLines, startTarget, type PolicyTarget } from './targets.js';
import { upstreamMark, upstreamRequests } from './upstream-requests.js';

const OLD = 'the file that was there first\n';
const NEW = 'a new upload\n';

for (const mode of ['proxy', 'local'] as const) {
  describe(`upload-only and drop-box users, ${mode} mode`, () => {
    let t: PolicyTarget;
    let cwd: string;
    before(async () => {
      t = await startTarget(mode, { up: { permissions: 'upload' }, drop: { permissions: 'list,upload' }, mover: { permissions: 'list,upload,rename' } });
      for (const name of ['up', 'drop', 'mover']) await writeFile(join(t.user(name).dir, 'existing.txt'), OLD);
      cwd = join(t.tmp, 'client');
      await mkdir(cwd);
      await writeFile(join(cwd, 'new.txt'), NEW);
      // Longer than what is there: reput (resume) would append the rest.
      await writeFile(join(cwd, 'longer.txt'), `${OLD}and more\n`);
    });
    after(() => t?.close());

    test('upload-only: put lands; ls and get are denied (OpenSSH sftp, psftp, paramiko)', async () => {
      const u = t.user('up');
      const mark = t.mark();
      const r = await openssh(t, u, ['put new.txt a.txt', 'ls', 'ls -l', 'get existing.txt got.txt'], cwd);
      assert.equal(await readFile(join(u.dir, 'a.txt'), 'utf8'), NEW, `put failed:\n${r.stderr}`);
      assert.equal(r.stderr.split('\n').filter((l) => /Permission denied/.test(l)).length, 3, r.stderr);
      const p = await psftp(t, u, ['put new.txt b.txt', 'ls', 'get existing.txt got2.txt'], cwd);
      assert.equal(await readFile(join(u.dir, 'b.txt'), 'utf8'), NEW, `psftp put failed:\n${p.stdout}${p.stderr}`);
      assert.equal(`${p.stdout}\n${p.stderr}`.split('\n').filter((l) => /permission denied/i.test(l)).length, 2, p.stdout + p.stderr);
      const results = await paramiko(t, u, [
        { op: 'put', local: join(cwd, 'new.txt'), remote: 'c.txt' }, { op: 'listdir', path: '.' }, { op: 'read', path: 'existing.txt' },
      ]);
      assert.deepEqual(results.map((x) => [x.ok, x.errno ?? null]), [[true, null], [false, 13], [false, 13]], JSON.stringify(results));
      assert.equal(await readFile(join(u.dir, 'c.txt'), 'utf8'), NEW);
      for (const f of ['got.txt', 'got2.txt']) assert.throws(() => readFileSync(join(cwd, f)), `${f} was downloaded`);
      const audit = auditLines(t, mark);
      assert.deepEqual(audit.filter((l) => l.event === 'upload').map((l) => [l.path, l.bytes, l.ok]).map((x) => [String(x[0]).replace(/^.*\//, ''), x[1], x[2]]),
        [['a.txt', NEW.length, true], ['b.txt', NEW.length, true], ['c.txt', NEW.length, true]]);
      assert.deepEqual([...new Set(audit.filter((l) => l.event === 'denied').map((l) => `${l.request}:${l.missing}`))].sort(),
        ['open:download', 'opendir:list']);
    });

    test('drop box: new files land; an existing one is not replaced by put, reput, psftp put, paramiko w/a/r+ or truncate', async () => {
      const u = t.user('drop');
      const upMark = await upstreamMark(u);
      const mark = t.mark();
      const r = await openssh(t, u, ['put new.txt fresh.txt', 'put new.txt existing.txt', 'reput longer.txt existing.txt', 'ls -1'], cwd);
      assert.equal(await readFile(join(u.dir, 'fresh.txt'), 'utf8'), NEW, r.stderr);
      assert.equal(r.stderr.split('\n').filter((l) => /Permission denied/.test(l)).length, 2, r.stderr);
      assert.match(r.stdout, /fresh\.txt/, 'ls works');
      const p = await psftp(t, u, ['put new.txt existing.txt', 'put new.txt fresh2.txt'], cwd);
      assert.equal(await readFile(join(u.dir, 'fresh2.txt'), 'utf8'), NEW, p.stdout + p.stderr);
      const results = await paramiko(t, u, [
        { op: 'put', local: join(cwd, 'new.txt'), remote: 'existing.txt' },
        { op: 'open', path: 'existing.txt', mode: 'w', data: 'x' },
        { op: 'open', path: 'existing.txt', mode: 'a', data: 'x' },
        { op: 'open', path: 'existing.txt', mode: 'r+', data: 'x' },
        { op: 'truncate', path: 'existing.txt', size: 0 },
        { op: 'open', path: 'fresh3.txt', mode: 'w', data: 'x' },
      ]);
      assert.deepEqual(results.map((x) => x.errno ?? 0), [13, 13, 13, 13, 13, 0], JSON.stringify(results));
      // Opening for writing without CREAT can only open a file that exists: answered "no such file".
      const s = await raw(t, u);
      try {
        assert.equal((await s.sftp.open('missing.txt', FXF.WRITE | FXF.TRUNC)).code, FX.NO_SUCH_FILE);
        assert.equal((await s.sftp.open('existing.txt', FXF.WRITE)).code, FX.PERMISSION_DENIED);
        // EXCL without CREAT makes nothing new (open(2) ignores it): TRUNC would empty the file.
        assert.equal((await s.sftp.open('existing.txt', FXF.WRITE | FXF.TRUNC | FXF.EXCL)).code, FX.PERMISSION_DENIED);
        assert.equal((await s.sftp.open('existing.txt', FXF.APPEND | FXF.EXCL)).code, FX.PERMISSION_DENIED);
      } finally {
        s.end();
      }
      assert.equal(await readFile(join(u.dir, 'existing.txt'), 'utf8'), OLD, 'the existing file was replaced');
      assert.equal(await readFile(join(u.dir, 'fresh3.txt'), 'utf8'), 'x');
      const denied = auditLines(t, mark).filter((l) => l.event === 'denied');
      assert.deepEqual(denied.map((l) => `${l.request}:${l.missing}`),
        // (r+ also reads, and a drop box may not download)
        ['open:overwrite', 'open:overwrite', 'open:overwrite', 'open:overwrite', 'open:overwrite', 'open:overwrite', 'open:download', 'setstat:overwrite', 'open:overwrite', 'open:overwrite', 'open:overwrite']);
      if (mode === 'proxy') {
        // Every OPEN that reached the upstream for writing carried EXCL (0x20) after its probe.
        const opens = (await upstreamRequests(u, upMark)).filter((x) => x.name === 'open' && (Number(/flags (\d+)/.exec(x.rest)?.[1]) & 0x1e) !== 0);
        assert.equal(opens.length, 3, JSON.stringify(await upstreamRequests(u, upMark)));
        for (const o of opens) assert.ok((Number(/flags (\d+)/.exec(o.rest)?.[1]) & FXF.EXCL) !== 0, `forwarded without EXCL: ${o.rest}`);
      }
    });

    test('drop box with rename: posix-rename onto an existing file is denied; onto a new name it moves (sent as RENAME)', async () => {
      const u = t.user('mover');
      await writeFile(join(u.dir, 'upload.part'), NEW);
      const upMark = await upstreamMark(u);
      const r = await openssh(t, u, ['rename upload.part existing.txt', 'rename upload.part final.txt'], cwd);
      assert.equal(r.stderr.split('\n').filter((l) => /Permission denied/.test(l)).length, 1, r.stderr);
      assert.equal(await readFile(join(u.dir, 'existing.txt'), 'utf8'), OLD);
      assert.equal(await readFile(join(u.dir, 'final.txt'), 'utf8'), NEW);
      if (mode === 'proxy') {
        const names = (await upstreamRequests(u, upMark)).map((x) => x.name);
        assert.ok(names.includes('rename') && !names.includes('posix-rename'), `upstream saw ${names.join(',')}`);
      }
    });

    if (mode === 'proxy') {
      test('drop box: a file made between the probe and the OPEN is not replaced (the forwarded OPEN has EXCL)', async () => {
        const u = t.user('drop');
        const sftpServer = () => descendants(u.sshd!.pid).find((pid) => {
          try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('sftp-server'); } catch { return false; }
        });
        const s = await raw(t, u);
        const server = sftpServer();
        assert.ok(server, 'no sftp-server process upstream');
        const upMark = await upstreamMark(u);
        try {
          // The upstream holds still: the proxy's probe (LSTAT) waits in its input.
          process.kill(server, 'SIGSTOP');
          // The sshd process that feeds sftp-server's stdin: it writes the probe into the pipe.
          const feeder = parentPid(server)!;
          const wchar = () => Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${feeder}/io`, 'latin1'))![1]);
          const wrote = wchar();
          const opened = s.sftp.open('race.txt', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
          // Until the probe has reached the upstream (milliseconds unloaded; a fixed wait was
          // once too short in a loaded run): the feeder wrote to the stopped sftp-server.
          const deadline0 = Date.now() + 10_000;
          while (wchar() === wrote && Date.now() < deadline0) await sleep(20);
          await sleep(50);
          // Now the proxy holds still; the upstream answers the probe ("no such file")...
          process.kill(t.proxy.pid, 'SIGSTOP');
          process.kill(server, 'SIGCONT');
          const deadline = Date.now() + 5000;
          while (!/lstat name "[^"]*race\.txt"/.test((await u.requests!()).slice(upMark)) && Date.now() < deadline) await sleep(20);
          await sleep(100);
          // ...and someone else makes the file before the proxy sends the OPEN.
          await writeFile(join(u.dir, 'race.txt'), OLD);
          process.kill(t.proxy.pid, 'SIGCONT');
          const reply = await opened;
          assert.notEqual(reply.code, FX.PERMISSION_DENIED, 'the probe left the proxy only after the file was made: the race was not set up');
          assert.deepEqual([reply.type, reply.code], [FXP.STATUS, FX.FAILURE], `the OPEN was not refused by the upstream (EXCL): ${reply.code}`);
          assert.equal(await readFile(join(u.dir, 'race.txt'), 'utf8'), OLD, 'the file made in between was replaced');
          const reqs = await upstreamRequests(u, upMark);
          assert.deepEqual(reqs.map((x) => x.name), ['lstat', 'open']);
          assert.equal(reqs[1]!.rest, `flags ${FXF.WRITE | FXF.CREAT | FXF.TRUNC | FXF.EXCL}`);
        } finally {
          process.kill(t.proxy.pid, 'SIGCONT');
          process.kill(server, 'SIGCONT');
          s.end();
        }
      });
    }
  });
}
