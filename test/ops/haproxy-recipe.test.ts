/**
 * Issue 12's scale-out recipe, run for real: the shipped deploy/haproxy.cfg (ports and paths
 * templated) in front of two instances sharing one host key and one Redis, `send-proxy-v2` to
 * them and `option httpchk GET /healthz` on their admin ports. Clients connect to HAProxy from
 * 127.0.0.5 and 127.0.0.6; HAProxy connects to the instances from 127.0.0.1, the one address they
 * take PROXY headers from. Logins spread over both instances; one is killed (SIGKILL) and every
 * login started after that gets in through the other, with the client's own address in its log.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deployHaproxyConfig, startHaproxy, type HaproxyHandle } from '../harness/haproxy.js';
import {
  freePort, makeTempDir, runSftp, startRedis, writeKnownHosts, type RedisHandle, type TempDir,
} from '../harness/index.js';
import { eventually } from '../proxy/stack.js';
import { loginWithPrefix, type LoginResult } from './edge-client.js';
import { fleet, startInstance, type Fleet, type Instance } from './instances.js';

let tmp: TempDir;
let redis: RedisHandle;
let f: Fleet;
let haproxy: HaproxyHandle;
let frontPort: number;
const instances: Instance[] = [];

before(async () => {
  tmp = await makeTempDir('haproxy-recipe-');
  redis = await startRedis();
  f = await fleet(tmp.path, redis);
  for (let i = 0; i < 2; i++) instances.push(await startInstance(f, ['--proxy-protocol-from', '127.0.0.1']));
  frontPort = await freePort();
  haproxy = await startHaproxy(tmp.path, deployHaproxyConfig({
    dir: tmp.path,
    bind: `127.0.0.1:${frontPort}`,
    servers: instances.map((inst, i) => ({ name: `sftp${i + 1}`, port: inst.proxy.port, adminPort: inst.adminPort })),
  }));
  await haproxy.waitForStates('pysftpproxy', { sftp1: 'UP', sftp2: 'UP' });
});

after(async () => {
  await haproxy?.stop();
  for (const i of instances) await (i.proxy.exited ? Promise.resolve() : i.proxy.stop());
  await redis?.close();
  await tmp?.cleanup();
});

const hostKeyBlob = (): string => f.hostKey.blobBase64;
const login = (localAddress: string): Promise<LoginResult> =>
  loginWithPrefix(frontPort, { localAddress, user: 'dora', privateKey: f.privateKey, hostKey: hostKeyBlob() });

describe('HAProxy (deploy/haproxy.cfg) in front of two instances', () => {
  test('OpenSSH sftp through HAProxy from 127.0.0.5: the instance logs the client\'s address, via the balancer', async () => {
    const knownHosts = await writeKnownHosts(join(tmp.path, 'known_hosts'), f.hostKey.publicLine, frontPort);
    const since = instances.map((i) => i.proxy.logs().length);
    const r = await runSftp({ port: frontPort, user: 'dora', keyPath: f.user.privatePath, knownHostsPath: knownHosts, batch: ['pwd'],
      extraArgs: ['-o', 'BindAddress=127.0.0.5'], timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr);
    const accepted = instances.flatMap((inst, n) => inst.proxy.logs().slice(since[n]).filter((l) => l.msg === 'login accepted'));
    assert.equal(accepted.length, 1, JSON.stringify(accepted));
    assert.match(String(accepted[0]!['remote']), /^127\.0\.0\.5:\d+$/);
    assert.match(String(accepted[0]!['via']), /^127\.0\.0\.1:\d+$/);
  });

  test('logins spread over both instances, each logging the real client address', async () => {
    const served = [0, 0];
    for (let n = 0; n < 8; n++) {
      const from = n % 2 === 0 ? '127.0.0.5' : '127.0.0.6';
      const r = await login(from);
      assert.equal(r.ok, true, r.error);
    }
    for (const [n, inst] of instances.entries()) {
      const lines = inst.proxy.logs().filter((l) => l.msg === 'login accepted');
      served[n] = lines.length;
      for (const l of lines) assert.match(String(l['remote']), /^127\.0\.0\.[56]:\d+$/, `instance ${n + 1}: ${JSON.stringify(l)}`);
    }
    assert.ok(served[0]! >= 3 && served[1]! >= 3, `logins per instance: ${served.join(', ')}`);
  });

  test('one instance killed: every login started after the kill gets in through the other', { timeout: 60_000 }, async () => {
    const [victim, survivor] = instances as [Instance, Instance];
    const results: Array<{ started: number; ms: number; r: LoginResult }> = [];
    let stopping = false;
    // Two clients logging in back to back, from before the kill until the check has marked it down and after.
    const client = async (from: string): Promise<void> => {
      while (!stopping) {
        const started = Date.now();
        const r = await login(from);
        results.push({ started, ms: Date.now() - started, r });
      }
    };
    const clients = [client('127.0.0.5'), client('127.0.0.6')];
    await sleep(1000);
    const survivorSince = survivor.proxy.logs().length;
    const killSent = Date.now();
    await victim.proxy.kill();
    // Logins started before the process was gone may have been in its hands (accepted, or in its
    // listen backlog): those are the ones a kill can cost. Every later one must get in.
    const killedAt = Date.now();
    await haproxy.waitForStates('pysftpproxy', { sftp1: 'DOWN', sftp2: 'UP' });
    const markedDownMs = Date.now() - killSent;
    await sleep(1500);
    stopping = true;
    await Promise.all(clients);

    const before = results.filter((x) => x.started < killedAt);
    const afterKill = results.filter((x) => x.started >= killedAt);
    const lostInFlight = before.filter((x) => !x.r.ok);
    const failedAfter = afterKill.filter((x) => !x.r.ok);
    const detectWindow = afterKill.filter((x) => x.started < killSent + markedDownMs);
    const slowest = Math.max(...detectWindow.map((x) => x.ms), 0);
    // The figures for the README's "Scaling out" section.
    console.log(`# haproxy recipe: process gone ${killedAt - killSent} ms and marked down ${markedDownMs} ms after SIGKILL; ` +
      `logins started before it was gone ${before.length} ` +
      `(lost in flight: ${lostInFlight.length}), after ${afterKill.length} (failed: ${failedAfter.length}; ` +
      `${detectWindow.length} before the check noticed, slowest ${slowest} ms)`);
    assert.ok(before.length > 0 && afterKill.length > 0, 'logins on both sides of the kill');
    assert.deepEqual(failedAfter.map((x) => x.r.error), [], 'every login started after the kill succeeded');
    const remotes = () => survivor.proxy.logs().slice(survivorSince).filter((l) => l.msg === 'login accepted').map((l) => String(l['remote']));
    // The survivor's last lines may still be in its stdout pipe when the clients are done.
    await eventually(() => remotes().length >= afterKill.length, 5000);
    assert.ok(remotes().length >= afterKill.length, `the survivor served ${remotes().length} logins`);
    for (const r of remotes()) assert.match(r, /^127\.0\.0\.[56]:\d+$/);
  });
});
