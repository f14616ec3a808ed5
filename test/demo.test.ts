// `npm run demo` end to end: the demo runs as a newcomer would start it, its printed `sftp` lines
// are run as printed (plus batch mode) with the real OpenSSH client, each user's files are found
// on their own upstream's folder as printed, and after SIGINT nothing the demo started is left.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  descendants, execFileCollect, isAlive, isPortOpen, makeTempDir, REPO_ROOT, stopChild, trackChild, type TempDir,
} from './harness/index.js';

const temps: TempDir[] = [];
/** Everything each demo started, killed here if a failed test left it behind. */
const started = new Set<number>();
after(async () => {
  for (const pid of started) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const t of temps) await t.cleanup();
});

interface Demo {
  child: ChildProcess;
  cwd: string;
  out: () => string;
  /** The printed `sftp ...` line for each login name. */
  lines: Map<string, string>;
  /** The proxy's port, from its `listening` log line. */
  port: number;
}

/** Start the demo in a fresh directory and wait until it printed `sftp` lines for every name in `users`. */
async function startDemo(args: string[], users: string[], env: Record<string, string> = {}): Promise<Demo> {
  const tmp = await makeTempDir('demo-');
  temps.push(tmp);
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/src/demo/demo.js'), ...args], {
    cwd: tmp.path, env: { PATH: process.env['PATH'], HOME: tmp.path, DEMO_PORT: '0', DEMO_LOG_JSON: '1', ...env },
  });
  trackChild(child, 'demo');
  let out = '';
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const lines = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no sftp lines for ${users.join(', ')} in 20 s:\n${out}`)), 20_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      for (const m of out.matchAll(/^(sftp .* (\S+)@localhost)$/gm)) lines.set(m[2]!, m[1]!);
      if (users.every((u) => lines.has(u))) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited (${code}):\n${out}`)); });
  });
  const listening = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; port?: number })
    .find((l) => l.msg === 'listening');
  assert.ok(listening?.port, `no listening line:\n${out}`);
  for (const pid of descendants(child.pid!)) started.add(pid);
  return { child, cwd: tmp.path, out: () => out, lines, port: listening.port };
}

/** The printed line, split as a shell would (it has no quoting here), run with a batch file. */
async function follow(demo: Demo, user: string, batch: string[]) {
  fs.writeFileSync(path.join(demo.cwd, 'batch'), batch.join('\n') + '\n');
  const [cmd, ...args] = demo.lines.get(user)!.split(/\s+/);
  assert.equal(cmd, 'sftp');
  const r = await execFileCollect(cmd!, ['-b', 'batch', '-o', 'BatchMode=yes', ...args], { cwd: demo.cwd, timeoutMs: 30_000 });
  assert.equal(r.code, 0, `${user}: ${r.stderr}\n${demo.out()}`);
  return r.stdout;
}

/** "  alice (...) -> upstream A, <kind> on 127.0.0.1:<port>; files land in <dir>" */
function upstreamOf(demo: Demo, user: string): { label: string; kind: string; port: number; files: string } {
  const m = new RegExp(`^  ${user} \\(.*\\) -> upstream (\\w), (.*) on 127\\.0\\.0\\.1:(\\d+); files land in (\\S+)$`, 'm').exec(demo.out());
  assert.ok(m, `no upstream line for ${user}:\n${demo.out()}`);
  return { label: m[1]!, kind: m[2]!, port: Number(m[3]), files: path.resolve(demo.cwd, m[4]!) };
}

/** SIGINT (Ctrl-C): the demo exits 0 and every process it started is gone, every port closed. */
async function interruptAndCheck(demo: Demo, ports: number[], expectChildren: RegExp[]): Promise<void> {
  const children = descendants(demo.child.pid!);
  const commands = children.map((pid) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { return ''; } });
  for (const want of expectChildren) assert.ok(commands.some((c) => want.test(c)), `no ${want} among the demo's processes: ${commands.join(' | ')}`);
  const exited = new Promise<number | null>((resolve) => demo.child.once('exit', (code) => resolve(code)));
  demo.child.kill('SIGINT');
  const timer = setTimeout(() => void stopChild(demo.child, { signal: 'SIGKILL', tree: true }), 10_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, `the demo did not stop cleanly on SIGINT:\n${demo.out()}`);
  const left = children.filter((pid) => isAlive(pid));
  assert.deepEqual(left, [], `still running after the demo stopped: ${left.join(', ')}`);
  for (const port of ports) assert.equal(await isPortOpen(port), false, `port ${port} still open`);
}

test('npm run demo: two users routed by their keys to two OpenSSH upstreams, as printed', async () => {
  const demo = await startDemo([], ['alice', 'bob']);
  const a = upstreamOf(demo, 'alice');
  const b = upstreamOf(demo, 'bob');
  assert.deepEqual([a.label, a.kind, b.label, b.kind], ['A', 'OpenSSH sshd', 'B', 'OpenSSH sshd'], demo.out());
  assert.match(demo.out(), /^  alice \(read-write\)/m);
  assert.match(demo.out(), /^  bob \(read-only\)/m);
  assert.match(demo.out(), /"login accepted"/, 'the demo says what to look for in the log');

  fs.writeFileSync(path.join(demo.cwd, 'from-alice.txt'), 'alice was here\n');
  const listing = await follow(demo, 'alice', ['put from-alice.txt uploaded.txt', 'ls']);
  assert.match(listing, /uploaded\.txt/);
  assert.equal(fs.readFileSync(path.join(a.files, 'uploaded.txt'), 'utf8'), 'alice was here\n');
  assert.equal(fs.existsSync(path.join(b.files, 'uploaded.txt')), false, 'alice\'s upload reached upstream B');

  await follow(demo, 'bob', ['ls', 'get README.txt bob-readme.txt']);
  assert.match(fs.readFileSync(path.join(demo.cwd, 'bob-readme.txt'), 'utf8'), /upstream B/);
  // bob is read-only: the proxy refuses his writes, as the demo says.
  const refused = await follow(demo, 'bob', ['-put from-alice.txt bob-upload.txt', '-mkdir bobdir']);
  assert.match(refused, /put from-alice\.txt/);
  assert.equal(fs.existsSync(path.join(b.files, 'bob-upload.txt')), false, 'bob\'s put reached upstream B');
  assert.equal(fs.existsSync(path.join(b.files, 'bobdir')), false, 'bob\'s mkdir reached upstream B');
  assert.match(demo.out(), /"audit"/, 'the demo says where the audit lines are');
  const users = JSON.parse(fs.readFileSync(path.join(demo.cwd, 'demo/proxy/users.json'), 'utf8')) as { users: Record<string, { permissions?: string }> };
  assert.equal(users.users['bob']?.permissions, 'read-only');

  await interruptAndCheck(demo, [demo.port, a.port, b.port], [/sshd -D -f .*upstream-a/, /sshd -D -f .*upstream-b/]);
});

test('npm run demo -- --redis: the same users in a private redis-server (real schema), local-mode upstreams', async () => {
  const demo = await startDemo(['--redis'], ['alice', 'bob'], { DEMO_UPSTREAMS: 'local' });
  const a = upstreamOf(demo, 'alice');
  const b = upstreamOf(demo, 'bob');
  assert.equal(a.kind, 'pysftpproxy local mode');
  assert.match(demo.out(), /private redis-server, pysftpproxy schema/);
  fs.writeFileSync(path.join(demo.cwd, 'up.txt'), 'via redis\n');
  await follow(demo, 'alice', ['put up.txt up.txt']);
  assert.equal(fs.readFileSync(path.join(a.files, 'up.txt'), 'utf8'), 'via redis\n');
  await follow(demo, 'bob', ['get README.txt b.txt']);
  assert.match(fs.readFileSync(path.join(demo.cwd, 'b.txt'), 'utf8'), /upstream B \(pysftpproxy local mode\)/);
  assert.equal(fs.existsSync(path.join(demo.cwd, 'demo/proxy/users.json')), false, 'the users came from Redis, not a file');
  await interruptAndCheck(demo, [demo.port, a.port, b.port], [/redis-server 127\.0\.0\.1:/]);
});

test('npm run demo -- --local: local mode serving demo/files/demo as /', async () => {
  const demo = await startDemo(['--local'], ['demo']);
  const batch = ['ls', 'put batch uploaded.txt', 'get README.txt readme-copy.txt'];
  const listing = await follow(demo, 'demo', batch);
  assert.match(listing, /README\.txt/);
  assert.equal(fs.readFileSync(path.join(demo.cwd, 'demo/files/demo/uploaded.txt'), 'utf8'), batch.join('\n') + '\n');
  assert.match(fs.readFileSync(path.join(demo.cwd, 'readme-copy.txt'), 'utf8'), /local mode/);
  await interruptAndCheck(demo, [demo.port], []);
});

test('a SIGTERM stops the demo and its upstreams as Ctrl-C does', async () => {
  const demo = await startDemo([], ['alice', 'bob']);
  const children = descendants(demo.child.pid!);
  assert.ok(children.length >= 2, `the demo started no upstream processes:\n${demo.out()}`);
  const exited = new Promise<number | null>((resolve) => demo.child.once('exit', (code) => resolve(code)));
  demo.child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.deepEqual(children.filter((pid) => isAlive(pid)), []);
});
