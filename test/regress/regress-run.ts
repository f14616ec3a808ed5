/**
 * One run of one script of OpenSSH's own regression suite, as Debian's `openssh-tests` package
 * installs it (/usr/lib/openssh/regress), read back as a list of checks.
 *
 * The scripts are run as they are installed, never copied: `sh -x test-exec.sh OBJ SCRIPT`, the
 * way the suite's own Makefile runs each of its tests. test-exec.sh writes its configs, keys and
 * logs into OBJ (a directory of ours), then sources SCRIPT. A script announces each check with
 * test-exec.sh's `verbose MESSAGE` and reports a failed one with `fail MESSAGE` (or `fatal`,
 * which also stops it; `skip` gives up). The shell's own trace (`-x`: dash prints every command
 * it runs, arguments expanded, on stderr) shows those calls exactly, so nothing in the suite has
 * to change for us to tell which check failed. The count of `fail` calls is checked against the
 * FAIL blocks test-exec.sh appends to OBJ/failed-regress.log, so a trace we misread cannot pass
 * for a clean run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive, trackChild, signalTree } from '../harness/index.js';

/** Where Debian's openssh-tests puts the suite. */
export const REGRESS_DIR = '/usr/lib/openssh/regress';
/** The sftp-server the suite's Debian runner (run-tests) tests, and the one we compare with. */
export const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

/** One check: a `verbose` line of the script and what went wrong under it. */
export interface Check {
  name: string;
  /** Messages of `fail`/`fatal` calls made while this check was the current one. */
  failures: string[];
}

export interface ScriptRun {
  script: string;
  /** test-exec.sh's exit status: 0 when no check failed. */
  code: number | null;
  timedOut: boolean;
  checks: Check[];
  /** `fail` calls before the first check (set-up trouble). */
  setupFailures: string[];
  /** The script stopped early: `fatal MESSAGE`. */
  fatal?: string;
  /** The script gave up: `skip REASON`. */
  skipped?: string;
  /** The script's stdout (its verbose lines and messages), for reports. */
  stdout: string;
  /** Failure logs test-exec.sh kept (failed-regress.log), for reports. */
  failedLog: string;
  ms: number;
}

export interface RunOptions {
  /** OBJ: the suite's working directory (made if missing; reused across scripts, as the Makefile does). */
  obj: string;
  /** test-exec.sh's own settings (TEST_SSH_*), on top of the defaults below. */
  env: Record<string, string>;
  timeoutMs: number;
}

/**
 * Make `obj` ready for test-exec.sh: the helper programs it expects there (built in a source
 * tree; the package ships them built) are linked from the installed suite.
 */
export async function prepareObj(obj: string): Promise<void> {
  await mkdir(obj, { recursive: true });
  for (const helper of ['netcat', 'check-perm', 'mkdtemp']) {
    if (!existsSync(join(obj, helper))) await symlink(join(REGRESS_DIR, helper), join(obj, helper));
  }
}

/** Run `script` (e.g. `sftp-perm`) once and read its checks back. */
export async function runRegressScript(script: string, opts: RunOptions): Promise<ScriptRun> {
  await prepareObj(opts.obj);
  // test-exec.sh appends to these; they must tell about this run only.
  for (const log of ['failed-regress.log', 'failed-ssh.log', 'failed-sshd.log']) await rm(join(opts.obj, log), { force: true });
  const started = Date.now();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C',
    TEST_SHELL: 'sh',
    TEST_SSH_SFTPSERVER: SFTP_SERVER,
    // Our temp directories sit under the world-writable /tmp.
    TEST_SSH_UNSAFE_PERMISSIONS: '1',
    ...opts.env,
  };
  const child = spawn('sh', ['-x', join(REGRESS_DIR, 'test-exec.sh'), opts.obj, join(REGRESS_DIR, `${script}.sh`)], {
    cwd: opts.obj,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child, `regress:${script}`);
  let stdout = '';
  let trace = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (trace += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) signalTree(child.pid, 'SIGKILL');
  }, opts.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  await stopLeftSshd(opts.obj);
  const failedLog = await readFile(join(opts.obj, 'failed-regress.log'), 'utf8').catch(() => '');
  return { script, code, timedOut, stdout, failedLog, ms: Date.now() - started, ...readTrace(trace, stdout, failedLog, script) };
}

/**
 * test-exec.sh starts its sshd as a daemon (it leaves our process tree) and stops it itself at
 * the end; a run we had to kill leaves it behind, named in OBJ/pidfile. The pid is only taken
 * for ours while it runs sshd with this OBJ's config (a stale file may name a reused pid).
 */
async function stopLeftSshd(obj: string): Promise<void> {
  const pid = Number((await readFile(join(obj, 'pidfile'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return;
  // sshd rewrites its title: "sshd: /usr/sbin/sshd -f OBJ/sshd_config ... [listener] ...".
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
  if (cmdline.includes('sshd') && cmdline.includes(` -f ${join(obj, 'sshd_config')} `)) signalTree(pid, 'SIGKILL');
}

type TraceResult = Pick<ScriptRun, 'checks' | 'setupFailures' | 'fatal' | 'skipped'>;

/**
 * The checks out of the shell's trace. dash traces a call as `+ NAME ARGS...` with the arguments
 * expanded and joined by single spaces, which is also what `echo "$@"` prints.
 */
export function readTrace(trace: string, stdout: string, failedLog: string, script: string): TraceResult {
  const checks: Check[] = [];
  const setupFailures: string[] = [];
  const out: TraceResult = { checks, setupFailures };
  let fails = 0;
  for (const line of trace.split('\n')) {
    const call = /^\+ (verbose|fail|fatal|skip)(?: (.*))?$/.exec(line);
    if (!call) continue;
    const [, fn, arg = ''] = call;
    if (fn === 'verbose') checks.push({ name: arg, failures: [] });
    else if (fn === 'fail') {
      fails++;
      (checks.at(-1)?.failures ?? setupFailures).push(arg);
    } else if (fn === 'fatal') out.fatal = arg; // fatal calls fail, which records the message
    else out.skipped = arg;
  }
  // test-exec.sh ends a clean run with `verbose ok $tid`: that is the verdict, not a check.
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  if (last.startsWith('ok ') && checks.at(-1)?.name === last && checks.at(-1)?.failures.length === 0) checks.pop();
  // Each fail appends the check's log so far plus a blank line: one block ending in its FAIL line.
  const logged = (failedLog.match(/^FAIL: .*\n\n/gm) ?? []).length;
  if (logged !== fails) {
    throw new Error(`${script}: the trace shows ${fails} fail call(s) but failed-regress.log has ${logged} FAIL line(s): ` +
      'the trace was misread (or a fail ran where its trace was redirected)');
  }
  return out;
}
