/**
 * --workers 2: one scrape of the primary's admin endpoint reports the whole server. Logins made
 * through both workers are summed; pysftpproxy_store_up and pysftpproxy_ready are the minimum
 * over the workers (two workers that see Redis report 1, not 2); readiness follows the workers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminPort, httpGet, promtoolCheck, scrape, scrapeUntil, type Scrape } from '../harness/index.js';
import { eventually, ProxyStack, type ProxyInstance, type TestUser } from '../proxy/stack.js';

const accepted = (s: Scrape): number => s.value('pysftpproxy_logins_total', { result: 'accepted', reason: 'ok' });

describe('metrics and readiness under --workers 2', () => {
  let stack: ProxyStack;
  let proxy: ProxyInstance;
  let admin: number;
  let carol: TestUser;

  before(async () => {
    stack = await ProxyStack.start({ noProxy: true });
    proxy = await stack.startProxy({ SFTPPROXY_WORKERS: '2', SFTPPROXY_ADMIN_LISTEN: '127.0.0.1:0' });
    const first = proxy.handle.listeningLog['worker'];
    await proxy.waitFor((l) => l.msg === 'listening' && l['worker'] !== first, 0, 15_000);
    admin = await adminPort(proxy.handle);
    carol = await stack.addUser('carol');
  });
  after(async () => { await stack?.close(); });

  test('logins through both workers are summed in one scrape; store_up and ready are 1, not 2', async () => {
    const ready = await eventually(async () => (await httpGet(admin, '/readyz')).status === 200, 10_000);
    assert.ok(ready, '/readyz turns 200 once both workers listen');
    const s0 = await scrape(admin);
    const since = proxy.mark();
    const logins = 6;
    for (let i = 0; i < logins; i++) assert.equal((await stack.sftp(carol, [`put ${stack.payload} w${i}.txt`], { proxy })).code, 0);
    await eventually(() => proxy.logs(since).filter((l) => l.msg === 'session end').length === logins);
    const workers = new Set(proxy.logs(since).filter((l) => l.msg === 'login accepted').map((l) => l['worker']));
    assert.deepEqual([...workers].sort(), [1, 2], 'round robin used both workers');

    const s = await scrapeUntil(admin, (x) => accepted(x) - accepted(s0) >= logins);
    assert.equal(accepted(s) - accepted(s0), logins);
    assert.equal(s.value('pysftpproxy_connections_total') - s0.value('pysftpproxy_connections_total'), logins);
    assert.equal(s.value('pysftpproxy_upstream_connect_seconds_count') - s0.value('pysftpproxy_upstream_connect_seconds_count'), logins);
    assert.equal(s.value('pysftpproxy_store_up'), 1);
    assert.equal(s.value('pysftpproxy_ready'), 1);
    assert.equal(s.value('pysftpproxy_sessions_active'), 0);
    assert.ok(s.find('process_resident_memory_bytes').length === 1 && s.value('process_resident_memory_bytes') > 1e6);
    const lint = await promtoolCheck(s.text);
    assert.equal(lint.code, 0, lint.output);
  });

  test('Redis stopped: store_up 0 and /readyz 503 naming the store; Redis back: 1 and 200', async () => {
    await stack.redis.stop();
    try {
      const s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_store_up') === 0);
      assert.equal(s.value('pysftpproxy_store_up'), 0);
      const r = await eventually(async () => { const a = await httpGet(admin, '/readyz'); return a.status === 503 ? a : undefined; });
      assert.ok(r, '/readyz turns 503');
      assert.match(r.body, /user store unavailable \(redis 127\.0\.0\.1:\d+\/1\)/);
      assert.equal((await httpGet(admin, '/healthz')).status, 200, 'healthy all the same: the process serves');
    } finally {
      await stack.redis.start();
    }
    await stack.repopulate();
    const s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_store_up') === 1, 15_000);
    assert.equal(s.value('pysftpproxy_store_up'), 1);
    assert.ok(await eventually(async () => (await httpGet(admin, '/readyz')).status === 200, 15_000));
    assert.equal((await stack.sftp(carol, ['pwd'], { proxy })).code, 0);
  });
});
