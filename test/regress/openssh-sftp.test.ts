/**
 * OpenSSH's own sftp regression scripts, run twice each in the same test run: straight to
 * OpenSSH's sftp-server / sshd (direct), and through pysftpproxy in proxy mode with the SFTP
 * filter on and full permissions (proxied). No check may fail through the proxy that passes
 * direct (issue 10, section 5). A check that fails direct on this machine is reported and still
 * compared; a script that cannot run here at all fails the test.
 *
 * Set-up (the least that works; nothing of OpenSSH is copied into this repository):
 * - The scripts are Debian's package `openssh-tests` (the suite of the installed openssh 9.2p1,
 *   in /usr/lib/openssh/regress), run in place as the suite's Makefile runs them:
 *   `sh test-exec.sh OBJ /usr/lib/openssh/regress/SCRIPT.sh`, no source tree and no build.
 *   OBJ is a fresh directory of ours per mode (one for all direct runs, one for all proxied runs),
 *   holding links to the package's built helpers (netcat, check-perm, mkdtemp); test-exec.sh
 *   writes its keys, configs, logs and test data there. Settings: TEST_SHELL=sh,
 *   TEST_SSH_SFTPSERVER (direct: /usr/lib/openssh/sftp-server), TEST_SSH_PORT (a free port for
 *   the sshd sftp-uri and sftp-chroot start), TEST_SSH_UNSAFE_PERMISSIONS=1 (OBJ is under /tmp),
 *   no SUDO (we run as root, as the harness's sshd does).
 * - Proxied: see proxied-rig.ts (a wrapper as SFTPSERVER for the `sftp -D` scripts, ssh_config
 *   lines for those that ssh themselves, upstream sshds whose sftp-server gets the same flags).
 * - Checks are read from the shell's trace of test-exec.sh's `verbose` and `fail` calls
 *   (regress-run.ts) and compared by name (compare-runs.ts).
 *
 * `npm test` runs every script but sftp.sh (65-80 s together on 2 cores at load 7-9, mostly the
 * ~80 logins of sftp-perm.sh through two SSH legs); sftp.sh moves a 474 KiB file in requests as
 * small as 5 bytes (45-65 s more): `npm run test:regress` runs all of them, PYSFTPPROXY_REGRESS=sftp,sftp-perm
 * the ones it names. Direct and proxied runs of a script go side by side; scripts one by one (the
 * proxied runs share the route of the suite's user and the upstream's flags file).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, makeTempDir, type LogLine, type TempDir } from '../harness/index.js';
import { compareRuns } from './compare-runs.js';
import { ProxiedRig } from './proxied-rig.js';
import { REGRESS_DIR, runRegressScript, type ScriptRun } from './regress-run.js';
import { selectedScripts, unknownScripts } from './sftp-scripts.js';

describe('OpenSSH\'s sftp regression scripts: direct and through the proxy', () => {
  let tmp: TempDir;
  let rig: ProxiedRig;
  let directObj: string;

  before(async () => {
    assert.ok(existsSync(join(REGRESS_DIR, 'test-exec.sh')),
      `OpenSSH's regression suite is not installed (${REGRESS_DIR}): run scripts/install-test-deps.sh (package openssh-tests)`);
    tmp = await makeTempDir('pysftpproxy-regress-');
    directObj = join(tmp.path, 'obj-direct');
    rig = await ProxiedRig.start(tmp.path, join(tmp.path, 'obj-proxied'));
  });

  after(async () => {
    await rig?.close();
    await tmp?.cleanup();
  });

  it('every sftp script of the installed suite is run here or left out with its reason', () => {
    assert.deepEqual(unknownScripts(), [], 'add them to test/regress/sftp-scripts.ts');
  });

  for (const script of selectedScripts()) {
    it(`${script.name}.sh: no check fails through the proxy that passes direct`, async (t) => {
      await rig.prepare(script.upstream);
      const mark = rig.mark();
      const [direct, proxied] = await Promise.all([
        runRegressScript(script.name, { obj: directObj, env: { TEST_SSH_PORT: String(await freePort()) }, timeoutMs: script.timeoutMs }),
        runRegressScript(script.name, { obj: rig.obj, env: { TEST_SSH_PORT: String(await freePort()), ...rig.env }, timeoutMs: script.timeoutMs }),
      ]);
      const logs = rig.logs(mark);
      const cmp = compareRuns(direct, proxied);
      // One diagnostic a line: the reporters escape newlines inside one.
      const report = (text: string): void => text.split('\n').forEach((line) => t.diagnostic(line));
      report(`${script.name}.sh (${script.checks}): ${direct.checks.length} checks, direct ${seconds(direct)}, proxied ${seconds(proxied)}\n${cmp.table}`);
      if (cmp.failingDirect.length > 0) {
        report(`${script.name}.sh: ${cmp.failingDirect.length} check(s) fail direct on this machine (compared anyway):\n` +
          cmp.failingDirect.map((f) => `  ${f.check}: ${f.direct.join('; ')} / proxied: ${f.proxied === 'not run' ? f.proxied : f.proxied.join('; ') || 'ok'}`).join('\n'));
      }

      const audited = [...new Set(logs.filter((l) => l.msg === 'audit').map((l) => String(l.event)))].sort();
      report(`${script.name}.sh: audited through the proxy: ${audited.join(', ') || 'nothing'}`);
      // The script ran here at all.
      assertRan(direct, 'direct');
      assert.equal(proxied.timedOut, false, `the proxied run did not finish within ${script.timeoutMs} ms\n${proxied.stdout}`);
      assert.deepEqual(cmp.regressions, [], `${script.name}.sh: checks that pass direct fail through the proxy\n${cmp.table}\n` +
        `proxied run:\n${proxied.stdout}\nfailed-regress.log (proxied):\n${proxied.failedLog.slice(-4000)}\n` +
        `proxy warnings:\n${warnings(logs)}`);
      // Its client went through the proxy, which denied nothing (full permissions) and kept the stream framed.
      const sessions = logs.filter((l) => l.msg === 'session end' && l.user === 'root').length;
      assert.ok(sessions > 0, `no session of the proxied run reached the proxy:\n${proxied.stdout}\n${proxied.failedLog}`);
      assert.deepEqual(logs.filter((l) => l.msg === 'audit' && l.event === 'denied'), [], 'the proxy denied requests of a user with full permissions');
      assert.deepEqual(logs.filter((l) => typeof l.msg === 'string' && /^bug:|cannot be framed/.test(l.msg)), []);
      // The filter read the sessions: the audit has the script's file operations.
      if (script.audited) assert.ok(audited.length > 0, 'nothing audited: is the SFTP filter on?');
    });
  }
});

function assertRan(run: ScriptRun, mode: string): void {
  const what = `${run.script}.sh cannot run here (${mode})`;
  assert.equal(run.timedOut, false, `${what}: no end within its time bound\n${run.stdout}`);
  assert.equal(run.skipped, undefined, `${what}: it skipped itself: ${run.skipped}`);
  assert.deepEqual(run.setupFailures, [], `${what}: its set-up failed\n${run.stdout}`);
  assert.ok(run.checks.length > 0, `${what}: it ran no check (exit ${run.code})\n${run.stdout}\n${run.failedLog}`);
}

function seconds(run: ScriptRun): string {
  return `${(run.ms / 1000).toFixed(1)} s`;
}

function warnings(logs: LogLine[]): string {
  return logs.filter((l) => (l.level ?? 0) >= 40).map((l) => JSON.stringify(l)).join('\n').slice(-4000) || '(none)';
}
