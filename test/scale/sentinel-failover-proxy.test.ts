/**
 * Proxy mode on Redis Sentinel (master + replica + 3 sentinels, all real): the master is killed
 * with SIGKILL while the proxy runs. Logins are refused at once during the failover, work again
 * within 30 s on the new master without restarting the proxy, and a session opened before the
 * kill keeps working (its upstream connection does not need Redis once open). Prints the figures
 * for the README: time from the kill to the first successful login, and the logins lost. Then a
 * planned switchover (SENTINEL FAILOVER, master alive) to the second replica is followed too.
 *
 *   npm run build && node --test dist/test/scale/sentinel-failover-proxy.test.js
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  generateKey, makeTempDir, openLiveSftp, runSftp, startProxy, startSentinels, startSshd, writeKnownHosts,
  type GeneratedKey, type LogLine, type ProxyHandle, type SentinelSetupHandle, type SshdHandle, type TempDir,
} from '../harness/index.js';

const UNAVAILABLE = 'redis unavailable: logins are refused until it is back';
/** Each refused login must come back well within this (the outage rule: fail fast, no hang). */
const FAST_MS = 5000;
/** Logins must work again this soon after the master is killed. */
const RECOVERY_MS = 30_000;
const LOGIN_EVERY_MS = 250;

let tmp: TempDir;
let sentinels: SentinelSetupHandle;
let sshd: SshdHandle;
let proxy: ProxyHandle;
let alice: GeneratedKey;
let upstreamDir: string;
let knownHosts: string;
let hostKeyLine: string;
/** The master the first test killed. */
let killedMaster = 0;

before(async () => {
  tmp = await makeTempDir('pysftpproxy-sentinel-proxy-');
  upstreamDir = join(tmp.path, 'upstream');
  await mkdir(upstreamDir);
  await writeFile(join(tmp.path, 'payload.txt'), 'one login\n');
  const upstreamKey = await generateKey(tmp.path, 'ed25519', 'proxy_upstream_key');
  alice = await generateKey(tmp.path, 'ed25519', 'alice');
  [sentinels, sshd] = await Promise.all([startSentinels({ replicas: 2 }), startSshd({ startDir: upstreamDir, authorizedKeys: [upstreamKey.publicLine] })]);

  const db = sentinels.client(1);
  await db.set(`pysftpproxy:pubkey:${alice.blobBase64}`, 'alice');
  await db.hset('pysftpproxy:user:alice', { remote: '127.0.0.1', port: String(sshd.port), user: 'root' });
  await sentinels.replicated(db);

  const dataDir = join(tmp.path, 'data');
  proxy = await startProxy({
    cwd: tmp.path,
    env: {
      SFTPPROXY_PORT: '0', SFTPPROXY_LISTEN: '127.0.0.1', SFTPPROXY_DATA_DIR: dataDir, SFTPPROXY_LOG_PRETTY: 'false',
      SFTPPROXY_CLIENT_KEY_PATH: upstreamKey.privatePath,
      SFTPPROXY_REDIS_SENTINELS: sentinels.sentinelList, SFTPPROXY_REDIS_SENTINEL_NAME: sentinels.name,
      SFTPPROXY_REDIS_SENTINEL_PASSWORD: sentinels.sentinelPassword, SFTPPROXY_REDIS_PASSWORD: sentinels.password,
      SFTPPROXY_REDIS_DB: '1',
    },
  });
  hostKeyLine = readFileSync(join(dataDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim();
  knownHosts = await writeKnownHosts(join(tmp.path, 'known_hosts'), hostKeyLine, proxy.port);
});

after(async () => {
  await proxy?.stop();
  await sshd?.close();
  await sentinels?.close();
  await tmp?.cleanup();
});

let n = 0;
async function login(): Promise<{ ok: boolean; ms: number; stderr: string }> {
  const remote = `login-${++n}.txt`;
  const t0 = Date.now();
  const r = await runSftp({ port: proxy.port, user: 'alice', keyPath: alice.privatePath, knownHostsPath: knownHosts,
    batch: [`put payload.txt ${remote}`], cwd: tmp.path, timeoutMs: 20_000 });
  const ms = Date.now() - t0;
  assert.equal(existsSync(join(upstreamDir, remote)), r.code === 0, `login ${n}: the upload and the exit code disagree`);
  return { ok: r.code === 0, ms, stderr: r.stderr };
}

const since = (mark: number, pred: (l: LogLine) => boolean): LogLine[] => proxy.logs().slice(mark).filter(pred);

test('the master is killed: logins fail fast, work again on the new master within 30 s, a live session stays', async (t) => {
  const first = await login();
  assert.ok(first.ok, `login before the failover failed:\n${first.stderr}`);
  assert.equal(proxy.logs().find((l) => l.msg === 'redis connected')?.master, `127.0.0.1:${await sentinels.masterPort()}`);
  const live = await openLiveSftp({ port: proxy.port, user: 'alice', keyPath: alice.privatePath, hostKeyLine });
  await live.writeFile('live-before.txt', 'before\n');

  const mark = proxy.logs().length;
  const killedAt = Date.now();
  const oldMaster = await sentinels.killMaster();
  killedMaster = oldMaster;
  let switchedAt = 0;
  const switched = sentinels.waitForNewMaster(oldMaster).then(() => { switchedAt = Date.now(); });
  const attempts: Array<{ ok: boolean; ms: number; stderr: string }> = [];
  let recoveredAt = 0;
  // One login every LOGIN_EVERY_MS, as a steady stream of clients would try (a refusal takes ~20 ms).
  while (Date.now() - killedAt < RECOVERY_MS) {
    const started = Date.now();
    const a = await login();
    attempts.push(a);
    if (a.ok) { recoveredAt = Date.now(); break; }
    await sleep(Math.max(0, LOGIN_EVERY_MS - (Date.now() - started)));
  }
  const lost = attempts.filter((a) => !a.ok);
  await switched;
  const backAt = Number(since(mark, (l) => l.msg === 'redis available again')[0]?.time);
  t.diagnostic(`failover: master killed -> sentinels name the new master ${switchedAt - killedAt} ms -> proxy reconnected ` +
    `${backAt - killedAt} ms -> first successful login ${recoveredAt ? recoveredAt - killedAt : 'never'} ms; ` +
    `one login tried every ${LOGIN_EVERY_MS} ms: ${lost.length} of ${attempts.length} refused, in ${Math.min(...lost.map((a) => a.ms))}-` +
    `${Math.max(...lost.map((a) => a.ms))} ms each`);

  assert.ok(recoveredAt > 0, `no login succeeded within ${RECOVERY_MS} ms of the kill:\n${attempts.at(-1)?.stderr}\n${proxy.output().slice(-3000)}`);
  // A login right after the kill cannot have been served: the outage was seen, and refused fast.
  assert.ok(lost.length >= 1, 'no login was refused during the failover: the test did not see the outage');
  for (const a of lost) assert.ok(a.ms < FAST_MS, `a refusal during the failover took ${a.ms} ms`);
  const refusals = since(mark, (l) => l.msg === 'login refused' && l.user === 'alice');
  assert.ok(refusals.length >= lost.length && refusals.every((l) => /store unavailable/.test(String(l.reason))),
    `refusals: ${JSON.stringify(refusals)}`);

  // The same process, the outage logged once, and the move to the new master named.
  const newMaster = await sentinels.masterPort();
  assert.notEqual(newMaster, oldMaster);
  assert.equal(proxy.exited, false);
  assert.equal(since(mark, (l) => l.msg === UNAVAILABLE).length, 1, 'the outage is logged once');
  const changed = since(mark, (l) => l.msg === 'redis master changed');
  assert.deepEqual(changed.map((l) => [l.from, l.to]), [[`127.0.0.1:${oldMaster}`, `127.0.0.1:${newMaster}`]]);
  assert.equal(since(mark, (l) => l.msg === 'redis available again').length, 1);

  // Logins keep working, and the session opened before the kill never noticed.
  assert.ok((await login()).ok, 'a second login after the failover failed');
  assert.equal(live.closed, false, `the live session was closed: ${live.closeReason}`);
  await live.writeFile('live-after.txt', 'after\n');
  assert.deepEqual((await live.readdir('.')).filter((f) => f.startsWith('live-')).sort(), ['live-after.txt', 'live-before.txt']);
  assert.equal(readFileSync(join(upstreamDir, 'live-after.txt'), 'utf8'), 'after\n');
  live.end();

  // Neither password is ever logged.
  assert.ok(!proxy.output().includes(sentinels.password) && !proxy.output().includes(sentinels.sentinelPassword), 'a password was logged');
});

test('a planned switchover (SENTINEL FAILOVER, the old master alive) is followed the same way', async (t) => {
  assert.ok(killedMaster, 'runs after the kill test');
  const live = await openLiveSftp({ port: proxy.port, user: 'alice', keyPath: alice.privatePath, hostKeyLine });
  const mark = proxy.logs().length;
  const startedAt = Date.now();
  let done: { from: number; to: number } | undefined;
  const switching = sentinels.switchover().then((r) => { done = r; });
  // Logins go on through the switch, until one succeeds after it.
  const attempts: Array<{ ok: boolean; ms: number; after: boolean }> = [];
  while (Date.now() - startedAt < RECOVERY_MS) {
    const started = Date.now();
    const after = done !== undefined;
    const a = await login();
    attempts.push({ ...a, after });
    if (after && a.ok) break;
    await sleep(Math.max(0, LOGIN_EVERY_MS - (Date.now() - started)));
  }
  await switching;
  const lost = attempts.filter((a) => !a.ok);
  t.diagnostic(`switchover: ${attempts.length} logins tried every ${LOGIN_EVERY_MS} ms while it ran, ${lost.length} refused` +
    (lost.length ? ` (in ${Math.max(...lost.map((a) => a.ms))} ms at most)` : ''));
  assert.ok(attempts.at(-1)?.after && attempts.at(-1)?.ok, `no login succeeded after the switchover within ${RECOVERY_MS} ms`);
  for (const a of lost) assert.ok(a.ms < FAST_MS, `a refusal during the switchover took ${a.ms} ms`);
  const changed = since(mark, (l) => l.msg === 'redis master changed');
  assert.deepEqual(changed.map((l) => [l.from, l.to]), [[`127.0.0.1:${done!.from}`, `127.0.0.1:${done!.to}`]]);
  assert.notEqual(done!.to, killedMaster);
  // Moved once, at the sentinels' announcement (each of the three announces it): not bounced.
  assert.equal(since(mark, (l) => l.msg === 'redis master switched by the sentinels: reconnecting').length, 1);
  assert.ok(since(mark, (l) => l.msg === UNAVAILABLE).length <= 1, 'the switchover was logged as more than one outage');
  assert.equal(live.closed, false, `the live session was closed: ${live.closeReason}`);
  await live.writeFile('live-switchover.txt', 'switched\n');
  assert.equal(readFileSync(join(upstreamDir, 'live-switchover.txt'), 'utf8'), 'switched\n');
  live.end();
  assert.equal(proxy.exited, false);
});
