// How a regression script's run is read back (regress-run.ts) and compared (compare-runs.ts):
// the cases the real runs of openssh-sftp.test.ts rarely show (a failing check, a check the
// proxied run never reached, a misread trace), on traces as dash prints them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { compareRuns } from './compare-runs.js';
import { readTrace, type ScriptRun } from './regress-run.js';

/** The failed-regress.log test-exec.sh leaves after one fail under `check` (its format, seen in real runs). */
const failBlock = (check: string, ...fails: string[]): string =>
  fails.map((_, i) => `trace: ${check}\n${fails.slice(0, i + 1).map((f) => `FAIL: ${f}\n`).join('')}\n`).join('');

function run(trace: string, stdout: string, failedLog = ''): ScriptRun {
  return { script: 'x', code: 0, timedOut: false, stdout, failedLog, ms: 0, ...readTrace(trace, stdout, failedLog, 'x') };
}

describe('reading a regression script\'s checks', () => {
  it('dash traces a call as "+ NAME ARGS" joined by single spaces, as the reader expects', () => {
    const r = spawnSync('sh', ['-xc', 'verbose() { :; }; X="g-wild*"; verbose "sftp glob: a  \\"q\\" $X"'], { encoding: 'utf8' });
    assert.match(r.stderr, /^\+ verbose sftp glob: a {2}"q" g-wild\*$/m);
  });

  it('checks in order, each with the failures made under it; the final "ok" is the verdict, not a check', () => {
    const trace = '+ verbose t: one\n+ echo t: one\n+ verbose t: two\n+ fail two broke\n+ echo two broke\n+ echo failed t\n';
    const r = run(trace, 't: one\nt: two\ntwo broke\nfailed t\n', failBlock('t: two', 'two broke'));
    assert.deepEqual(r.checks, [{ name: 't: one', failures: [] }, { name: 't: two', failures: ['two broke'] }]);
    const clean = run('+ verbose t: one\n+ verbose ok t\n', 't: one\nok t\n');
    assert.deepEqual(clean.checks, [{ name: 't: one', failures: [] }]);
  });

  it('two failures under one check count as two (each FAIL block repeats the ones before)', () => {
    const r = run('+ verbose c\n+ fail a\n+ fail b\n', 'c\na\nb\nfailed t\n', failBlock('c', 'a', 'b'));
    assert.deepEqual(r.checks, [{ name: 'c', failures: ['a', 'b'] }]);
  });

  it('fatal, skip, and failures before the first check are told apart', () => {
    const r = run('+ fail early\n+ verbose c\n+ fatal gone\n+ fail gone\n', '',
      'trace: x\nFAIL: early\n\ntrace: c\nFATAL: gone\n\ntrace: c\nFATAL: gone\nFAIL: gone\n\n');
    assert.deepEqual(r.setupFailures, ['early']);
    assert.equal(r.fatal, 'gone');
    assert.deepEqual(r.checks, [{ name: 'c', failures: ['gone'] }]);
    assert.equal(run('+ skip no chroot here\n', 'SKIPPED: no chroot here\n').skipped, 'no chroot here');
  });

  it('a trace that shows fewer fail calls than test-exec.sh logged is refused, not read as a clean run', () => {
    assert.throws(() => run('+ verbose c\n', 'c\nfailed t\n', failBlock('c', 'hidden')), /trace was misread/);
  });
});

describe('comparing a direct run with a proxied one', () => {
  const checks = (...spec: [string, string[]][]): ScriptRun =>
    ({ script: 'x', code: 0, timedOut: false, stdout: '', failedLog: '', ms: 0, setupFailures: [], checks: spec.map(([name, failures]) => ({ name, failures })) });

  it('a check that passes direct and fails proxied is a regression; one failing in both is reported, not one', () => {
    const cmp = compareRuns(checks(['a', []], ['b', ['x']], ['c', []]), checks(['a', []], ['b', ['x']], ['c', ['broke']]));
    assert.deepEqual(cmp.regressions, [{ check: 'c', proxied: ['broke'] }]);
    assert.deepEqual(cmp.failingDirect, [{ check: 'b', direct: ['x'], proxied: ['x'] }]);
  });

  it('a check the proxied run never reached is a regression', () => {
    const cmp = compareRuns(checks(['a', []], ['b', []]), checks(['a', []]));
    assert.equal(cmp.regressions.length, 1);
    assert.equal(cmp.regressions[0]!.check, 'b');
  });

  it('checks of the same name are compared by their place among those of that name', () => {
    const cmp = compareRuns(checks(['get', []], ['get', []]), checks(['get', []], ['get', ['second broke']]));
    assert.deepEqual(cmp.regressions, [{ check: 'get (#2)', proxied: ['second broke'] }]);
  });
});
