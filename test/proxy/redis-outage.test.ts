/**
 * Redis outages: logins are refused at once (not hung) while Redis is down,
 * the outage is logged once (not once per reconnect attempt), and logins work
 * again as soon as Redis is back, without restarting the proxy. A proxy
 * started while Redis is down runs and serves once Redis comes up.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '../harness/index.js';
import { assertNoInternals, ProxyStack, type ProxyInstance, type TestUser, type Upstream } from './stack.js';

const UNAVAILABLE = 'redis unavailable: logins are refused until it is back';
const isUnavailable = (l: LogLine): boolean => l.msg === UNAVAILABLE;
const isBack = (l: LogLine): boolean => l.msg === 'redis available again' || l.msg === 'redis connected';

describe('proxy: redis outage', () => {
  let stack: ProxyStack;
  let up: Upstream;
  let user: TestUser;
  let payload: string;
  let n = 0;

  before(async () => {
    stack = await ProxyStack.start();
    up = stack.upstreams[0]!;
    user = await stack.addUser('ro');
    payload = stack.payload;
  });
  after(async () => {
    if (stack && !stack.redis.running) await stack.redis.start().catch(() => {});
    await stack?.close();
  });

  async function login(proxy: ProxyInstance): Promise<{ ok: boolean; ms: number; stderr: string; since: number }> {
    const remote = `ro-${++n}.txt`;
    const since = proxy.mark();
    const t0 = Date.now();
    const res = await stack.sftp(user, [`put ${payload} ${remote}`], { proxy, timeoutMs: 30_000 });
    const ms = Date.now() - t0;
    assert.equal(existsSync(join(up.dir, remote)), res.code === 0);
    return { ok: res.code === 0, ms, stderr: res.stderr, since };
  }

  async function expectRefusedFast(proxy: ProxyInstance): Promise<void> {
    const r = await login(proxy);
    assert.equal(r.ok, false, 'a login succeeded while Redis was down');
    assert.ok(r.ms < 5000, `the refusal took ${r.ms} ms (expected well under 5 s)`);
    assertNoInternals(r.stderr, stack, [stack.redis.port]);
    const line = await proxy.waitRefused(user.name, r.since);
    assert.match(String(line.reason), /store unavailable/, `reason: ${String(line.reason)}`);
  }

  test('Redis stops while the proxy runs: refused fast, logged once, back without a restart', async () => {
    const proxy = stack.proxy;
    const pid = proxy.handle.pid;
    const r0 = await login(proxy);
    assert.ok(r0.ok, r0.stderr);

    const outageStart = proxy.mark();
    await stack.redis.stop();
    await proxy.waitFor(isUnavailable, outageStart, 10_000);
    await expectRefusedFast(proxy);
    // Let the proxy retry its connection for a while (it retries every <= 1 s), and try once more.
    await sleep(3000);
    await expectRefusedFast(proxy);
    const count = proxy.logs(outageStart).filter(isUnavailable).length;
    assert.equal(count, 1, `${count} "${UNAVAILABLE}" lines during one outage (expected one, not one per retry)`);

    const restart = proxy.mark();
    await stack.redis.start();
    await stack.repopulate(); // no persistence: the users are gone
    const back = await proxy.waitFor(isBack, restart, 15_000);
    assert.equal(back.msg, 'redis available again');
    const r1 = await login(proxy);
    assert.ok(r1.ok, `login after Redis came back failed:\n${r1.stderr}`);
    assert.equal(proxy.handle.pid, pid);
    assert.equal(proxy.handle.exited, false);
  });

  test('a proxy started while Redis is down keeps running and serves once Redis is up', async () => {
    await stack.redis.stop();
    const proxy = await stack.startProxy();
    try {
      await proxy.waitFor(isUnavailable, 0, 10_000);
      await expectRefusedFast(proxy);
      await sleep(2000);
      assert.equal(proxy.handle.exited, false, 'the proxy exited without Redis');
      const count = proxy.logs().filter(isUnavailable).length;
      assert.equal(count, 1, `${count} "${UNAVAILABLE}" lines while Redis never came up (expected one, not one per retry)`);

      const mark = proxy.mark();
      await stack.redis.start();
      await stack.repopulate();
      await proxy.waitFor(isBack, mark, 15_000);
      const r = await login(proxy);
      assert.ok(r.ok, `login once Redis is up failed:\n${r.stderr}`);
    } finally {
      await stack.stopProxy(proxy);
    }
  });

  test('Redis hangs (SIGSTOP, connection kept): the outage is logged, and its return', async () => {
    const proxy = stack.proxy;
    const since = proxy.mark();
    process.kill(stack.redis.pid, 'SIGSTOP');
    try {
      await expectRefusedFast(proxy);
      await proxy.waitFor(isUnavailable, since, 10_000);
    } finally {
      process.kill(stack.redis.pid, 'SIGCONT');
    }
    await proxy.waitFor((l) => l.msg === 'redis available again', since, 10_000);
    const r = await login(proxy);
    assert.equal(r.ok, true, `login after Redis answered again: ${r.stderr}`);
    assert.equal(proxy.logs(since).filter(isUnavailable).length, 1, 'the outage is logged once');
  });
});
