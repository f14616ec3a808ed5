/**
 * --max-sessions-per-user across two instances sharing Redis (proxy mode): a user's places are
 * counted in Redis, so N sessions spread over both instances fill them and the N+1th is refused on
 * either; a session that ends gives its place back. An instance killed with sessions open cannot
 * give them back: its places go when its liveness key does (a 30 s TTL, refreshed every 10 s).
 * The test reads that TTL and then deletes the key as its expiry would, instead of waiting 30 s.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type ssh2 from 'ssh2';
import { adminPort, scrapeUntil, type Scrape } from '../harness/index.js';
import { eventually, ProxyStack, type ProxyInstance, type TestUser } from '../proxy/stack.js';

const refusals = (s: Scrape): number => s.value('pysftpproxy_logins_total', { result: 'refused', reason: 'max-sessions-per-user' });

describe('--max-sessions-per-user 2 across two instances sharing Redis', () => {
  let stack: ProxyStack;
  let a: ProxyInstance;
  let b: ProxyInstance;
  let gina: TestUser;
  let hank: TestUser;
  const open = new Map<ssh2.Client, { proxy: ProxyInstance; user: TestUser }>();

  before(async () => {
    stack = await ProxyStack.start({ noProxy: true });
    const env = { SFTPPROXY_MAX_SESSIONS_PER_USER: '2', SFTPPROXY_ADMIN_LISTEN: '127.0.0.1:0' };
    a = await stack.startProxy(env);
    b = await stack.startProxy(env);
    gina = await stack.addUser('gina');
    hank = await stack.addUser('hank');
  });
  after(async () => {
    for (const c of open.keys()) c.end();
    await stack?.close();
  });

  const login = async (user: TestUser, proxy: ProxyInstance): Promise<ssh2.Client> => {
    const c = await stack.ssh2({ user: user.name, privateKey: readFileSync(user.key.privatePath), proxy });
    c.on('error', () => {});
    open.set(c, { proxy, user });
    return c;
  };
  const end = async (c: ssh2.Client): Promise<void> => {
    const { proxy } = open.get(c)!;
    open.delete(c);
    const since = proxy.mark();
    c.end();
    await proxy.waitFor((l) => l.msg === 'session end' || l.msg === 'connection closed before login', since);
  };

  test('one session on each instance fills the 2 places: the 3rd is refused on both, other users are not', async () => {
    await login(gina, a);
    await login(gina, b);
    const adminA = await adminPort(a.handle);
    for (const p of [a, b]) {
      const since = p.mark();
      await assert.rejects(login(gina, p), /authentication methods failed/, `refused on the instance on port ${p.port}`);
      const line = await p.waitRefused(gina.name, since);
      assert.equal(line['reason'], 'the user has 2 sessions open (--max-sessions-per-user)');
    }
    const s = await scrapeUntil(adminA, (x) => refusals(x) === 1);
    assert.equal(refusals(s), 1, 'counted on the instance that refused');
    await login(hank, a);
    await login(hank, b);
  });

  test('a session that ends frees its place for either instance', async () => {
    const onA = [...open].find(([, o]) => o.proxy === a && o.user === gina)![0];
    await end(onA);
    await login(gina, b); // gina now holds both places on b
    await assert.rejects(login(gina, a), /authentication methods failed/);
  });

  test('an instance killed with sessions open: its places are held until its liveness key (TTL <= 30 s) is gone, then free', async () => {
    await b.handle.kill();
    for (const [c, o] of open) if (o.proxy === b) open.delete(c);
    await assert.rejects(login(gina, a), /authentication methods failed/, 'the dead instance\'s places still count for now');
    const keys = (await stack.db.keys('pysftpproxy:instance:*')).filter((k) => k.startsWith(`pysftpproxy:instance:${b.handle.pid}-`));
    assert.equal(keys.length, 1, 'the killed instance has one liveness key');
    const ttl = await stack.db.ttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 30, `its TTL is ${ttl} s`);
    await stack.db.del(keys[0]!); // what its expiry does within those seconds
    const c1 = await eventually(() => login(gina, a).catch(() => undefined), 5000);
    assert.ok(c1, 'gina logs in on the surviving instance');
    await login(gina, a);
    await assert.rejects(login(gina, a), /authentication methods failed/, 'both places are hers again, and only those');
  });
});
