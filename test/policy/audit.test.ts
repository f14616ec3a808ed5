// The audit of a whole session, in both modes: one line per file operation, checked field by
// field (event, user, remote, path or from/to, bytes, ms, ok, status, incomplete), the same
// events in the Redis stream of --audit-stream, and the same sequence in proxy and local mode.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { writeRandomFile, type LogLine } from '../harness/index.js';
import { FX, FXF } from '../../src/sftp/protocol/constants.js';
import { openssh, raw } from './clients.js';
import { auditLines, startTarget, type PolicyTarget } from './targets.js';

const STREAM = 'pysftpproxy:audit';
const SIZE = 100_000;

/** An audit line without what differs from run to run (time, port, duration), paths made relative to the user's start. */
function normalized(l: LogLine, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l)) {
    if (['level', 'time', 'msg', 'ms', 'remote'].includes(k)) continue;
    out[k] = typeof v === 'string' && ['path', 'from', 'to'].includes(k) && v.startsWith(prefix) ? v.slice(prefix.length) : v;
  }
  return out;
}

/** Every mode's normalized events, compared at the end. */
const seen = new Map<string, Array<Record<string, unknown>>>();

for (const mode of ['proxy', 'local'] as const) {
  describe(`audit, ${mode} mode`, () => {
    let t: PolicyTarget;
    let cwd: string;
    before(async () => {
      t = await startTarget(mode, { all: {}, ro: { permissions: 'read-only' } }, { redis: true, args: ['--audit-stream', STREAM] });
      cwd = join(t.tmp, 'client');
      await mkdir(cwd);
      await writeRandomFile(join(cwd, 'up.bin'), SIZE);
    });
    after(() => t?.close());

    test('a full session: one line per operation, field by field, and the same events in the Redis stream', async () => {
      const u = t.user('all');
      // What the client names its paths with: absolute, under its start directory.
      const start = mode === 'proxy' ? u.dir : '';
      const mark = t.mark();
      const res = await openssh(t, u, [
        'put up.bin up.bin', 'get up.bin down.bin', 'rename up.bin moved.bin', 'mkdir d', 'chmod 600 moved.bin',
        'symlink moved.bin s.lnk', 'ln moved.bin hard.bin', 'cp moved.bin copy.bin', 'rm hard.bin', 'rmdir d',
        'rm nothere.txt', 'mkdir d2', 'mkdir d2', 'ls -l',
      ], cwd);
      assert.equal(res.code, 0, res.stderr);
      // A session that ends with a file open for writing and one open for reading.
      const s = await raw(t, u);
      const w = await s.sftp.open('partial.bin', FXF.WRITE | FXF.CREAT);
      await s.sftp.write(w.handle!, 0, Buffer.alloc(5000, 1));
      const r = await s.sftp.open('copy.bin', FXF.READ);
      assert.equal((await s.sftp.read(r.handle!, 0, 1000)).data?.length, 1000);
      s.end();
      await t.waitFor((l) => l.msg === 'audit' && l.incomplete === true && l.event === 'download', mark);
      // A denial.
      const d = await raw(t, t.user('ro'));
      assert.equal((await d.sftp.remove('moved.bin')).code, FX.PERMISSION_DENIED);
      d.end();
      await t.waitFor((l) => l.msg === 'audit' && l.event === 'denied', mark);

      const lines = auditLines(t, mark);
      const p = (x: string): string => `${start}/${x}`;
      const expected: Array<Record<string, unknown>> = [
        { event: 'upload', path: p('up.bin'), bytes: SIZE, ok: true },
        { event: 'download', path: p('up.bin'), bytes: SIZE, ok: true },
        { event: 'rename', from: p('up.bin'), to: p('moved.bin'), ok: true },
        { event: 'mkdir', path: p('d'), ok: true },
        { event: 'setstat', path: p('moved.bin'), ok: true },
        // The link's target as the client gave it (OpenSSH does not make it absolute).
        { event: 'symlink', path: p('s.lnk'), to: 'moved.bin', ok: true },
        { event: 'hardlink', from: p('moved.bin'), to: p('hard.bin'), ok: true },
        // cp: copy-data between two handles, then the two handles closing (no bytes passed through them).
        { event: 'copy', from: p('moved.bin'), to: p('copy.bin'), ok: true },
        { event: 'download', path: p('moved.bin'), bytes: 0, ok: true },
        { event: 'upload', path: p('copy.bin'), bytes: 0, ok: true },
        { event: 'remove', path: p('hard.bin'), ok: true },
        { event: 'rmdir', path: p('d'), ok: true },
        { event: 'remove', path: p('nothere.txt'), ok: false, status: FX.NO_SUCH_FILE },
        { event: 'mkdir', path: p('d2'), ok: true },
        { event: 'mkdir', path: p('d2'), ok: false, status: FX.FAILURE },
        // Still open when the session ended: relative paths, as this client sent them.
        { event: 'upload', path: 'partial.bin', bytes: 5000, ok: false, incomplete: true },
        { event: 'download', path: 'copy.bin', bytes: 1000, ok: false, incomplete: true },
        { event: 'denied', request: 'remove', missing: 'delete', path: 'moved.bin', ok: false, status: FX.PERMISSION_DENIED },
      ];
      const got = lines.map((l) => {
        const { level: _l, time: _t, msg: _m, ms: _ms, remote: _r, user: _u, ...rest } = l;
        return rest;
      });
      assert.deepEqual(got, expected);
      for (const [i, l] of lines.entries()) {
        assert.equal(l.user, i === lines.length - 1 ? 'ro' : 'all');
        assert.match(String(l.remote), /^127\.0\.0\.1:\d+$/);
        assert.ok(Number.isInteger(l.ms) && (l.ms as number) >= 0, `ms of ${JSON.stringify(l)}`);
      }
      seen.set(mode, lines.map((l) => normalized(l, start)));
      // The session-end line counts file bytes (as the audit does), not SSH channel bytes.
      const end = t.logs(mark).find((l) => l.msg === 'session end' && l.user === 'all');
      assert.deepEqual([end?.bytesUp, end?.bytesDown], [SIZE, SIZE], JSON.stringify(end));

      // The stream: the same events, field for field (as strings), in the same order.
      const db = t.redis!.client(1);
      let entries: Array<[string, string[]]> = [];
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(50)) {
        entries = await db.xrange(STREAM, '-', '+');
        if (entries.length >= lines.length) break;
      }
      const fromStream = entries.slice(-lines.length).map(([, fields]) => Object.fromEntries(fields.reduce<string[][]>((acc, v, i) => (i % 2 ? acc[acc.length - 1]!.push(v) : acc.push([v]), acc), [])));
      const fromLog = lines.map((l) => Object.fromEntries(Object.entries(l).filter(([k]) => !['level', 'time', 'msg'].includes(k)).map(([k, v]) => [k, String(v)])));
      assert.deepEqual(fromStream, fromLog);
    });
  });
}

test('proxy and local mode audit the same session alike', () => {
  assert.ok(seen.has('proxy') && seen.has('local'), 'both modes ran');
  assert.deepEqual(seen.get('proxy'), seen.get('local'));
});
