/**
 * Under --workers a dead worker is always replaced, with a backoff and a log line: killing every
 * worker at once must not end the primary (its restart timer once was unref'd, so with no worker
 * left nothing kept it alive), and a worker that dies young again waits longer.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, localUserSetup, makeTempDir, productKnownHosts, runSftp, startProxy, type ProxyHandle, type TempDir } from '../harness/index.js';

let tmp: TempDir;
let proxy: ProxyHandle;
let setup: Awaited<ReturnType<typeof localUserSetup>>;

function workerPids(primary: number): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[3] === String(primary); } catch { return false; }
  });
}

before(async () => {
  tmp = await makeTempDir('workers-restart-');
  setup = await localUserSetup(tmp.path);
  // A fixed port: with --port 0, workers started after all others died would pick a new one.
  proxy = await startProxy({ args: [...setup.args, '--workers', '2', '--port', String(await freePort())] });
  await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] !== proxy.listeningLog['worker'], 15_000);
});
after(async () => { await proxy?.stop(); await tmp?.cleanup(); });

test('every worker killed at once: the primary stays, replaces both, and logins work again', { timeout: 60_000 }, async () => {
  const before = workerPids(proxy.pid);
  assert.equal(before.length, 2);
  const since = proxy.logs().length;
  for (const pid of before) process.kill(pid, 'SIGKILL');
  const died = await Promise.all([1, 2].map((n) => proxy.waitForLog((l) => l.msg === 'worker died: starting a new one' && l['worker'] === n, 10_000, since)));
  for (const d of died) assert.equal(d['restartInMs'], 1000);
  await Promise.all([1, 2].map((n) => proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] === n, 15_000, since)));
  assert.equal(proxy.exited, false);
  const now = workerPids(proxy.pid);
  assert.equal(now.length, 2);
  assert.equal(now.some((p) => before.includes(p)), false, 'new processes');

  const src = path.join(tmp.path, 'after-restart');
  fs.writeFileSync(src, 'still serving\n');
  const knownHosts = await productKnownHosts(tmp.path, setup.dataDir, proxy.port);
  const r = await runSftp({ port: proxy.port, user: setup.name, keyPath: setup.key.privatePath, knownHostsPath: knownHosts,
    batch: [`put ${src} after-restart`] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(setup.files, setup.name, 'after-restart'), 'utf8'), 'still serving\n');
});

test('a worker that dies young again is restarted after a longer wait', { timeout: 60_000 }, async () => {
  const since = proxy.logs().length;
  const pids = workerPids(proxy.pid);
  process.kill(pids[0]!, 'SIGKILL');
  const first = await proxy.waitForLog((l) => l.msg === 'worker died: starting a new one', 10_000, since);
  const n = first['worker'];
  await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] === n, 15_000, since);
  const replacement = workerPids(proxy.pid).find((p) => !pids.includes(p));
  assert.ok(replacement, 'a new worker process');
  const again = proxy.logs().length;
  process.kill(replacement, 'SIGKILL');
  const second = await proxy.waitForLog((l) => l.msg === 'worker died: starting a new one', 10_000, again);
  assert.equal(second['worker'], n);
  assert.ok(Number(second['restartInMs']) > Number(first['restartInMs']), `${String(first['restartInMs'])} then ${String(second['restartInMs'])}`);
  await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] === n, 15_000, again);
});
