/**
 * /healthz and /readyz of one process in proxy mode: healthy while it serves; ready while it
 * listens and Redis answers; 503 with the reason while Redis is down, ready again once it is back
 * (and pysftpproxy_store_up follows: 1, 0, 1). Draining is in drain.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminPort, httpGet, scrapeUntil } from '../harness/index.js';
import { eventually, ProxyStack, type TestUser } from '../proxy/stack.js';

describe('health and readiness, one process', () => {
  let stack: ProxyStack;
  let admin: number;
  let dave: TestUser;

  before(async () => {
    stack = await ProxyStack.start({ proxyEnv: { SFTPPROXY_ADMIN_LISTEN: '127.0.0.1:0' } });
    admin = await adminPort(stack.proxy.handle);
    dave = await stack.addUser('dave');
  });
  after(async () => { await stack?.close(); });

  test('serving: /healthz 200, /readyz 200; anything else 404', async () => {
    assert.deepEqual(await httpGet(admin, '/healthz').then((r) => [r.status, r.body]), [200, 'ok\n']);
    assert.deepEqual(await httpGet(admin, '/readyz').then((r) => [r.status, r.body]), [200, 'ready\n']);
    assert.equal((await httpGet(admin, '/nothing')).status, 404);
  });

  test('Redis down: /readyz 503 naming it and store_up 0, /healthz still 200; Redis back: ready, 1, logins again', async () => {
    await stack.redis.stop();
    try {
      const r = await eventually(async () => { const a = await httpGet(admin, '/readyz'); return a.status === 503 ? a : undefined; });
      assert.ok(r, '/readyz turns 503 while Redis is down');
      assert.match(r.body, /^user store unavailable \(redis 127\.0\.0\.1:\d+\/1\)\n$/);
      assert.equal((await httpGet(admin, '/healthz')).status, 200);
      const s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_store_up') === 0);
      assert.equal(s.value('pysftpproxy_store_up'), 0);
      assert.equal(s.value('pysftpproxy_ready'), 0);
    } finally {
      await stack.redis.start();
    }
    await stack.repopulate();
    assert.ok(await eventually(async () => (await httpGet(admin, '/readyz')).status === 200, 15_000), '/readyz 200 again');
    const s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_store_up') === 1 && x.value('pysftpproxy_ready') === 1);
    assert.equal(s.value('pysftpproxy_store_up'), 1);
    assert.equal((await stack.sftp(dave, ['pwd'])).code, 0);
  });
});
