/**
 * The server-wide limits under --workers 2 (local mode, users file: the workers share their
 * counts through the primary), each at its edge: N allowed, N+1 refused, other clients not
 * affected, logged when it bites and counted with its metric reason, and a place freed when its
 * connection ends. Connections are spread over both workers (node:cluster hands them round robin),
 * so a count kept per worker would let 2N in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type ssh2 from 'ssh2';
import {
  adminPort, parsePublicLine, productHostKeyLine, scrape, scrapeUntil, type ProxyHandle, type Scrape,
} from '../harness/index.js';
import { eventually } from '../proxy/stack.js';
import { startLocalProduct, type LocalProduct } from '../hostile/local-product.js';
import { settlesWithin, silent, sshLogin, type Held } from './clients.js';

async function bothWorkersListen(proxy: ProxyHandle): Promise<void> {
  const first = proxy.listeningLog['worker'];
  await proxy.waitForLog((l) => l.msg === 'listening' && l['worker'] !== first, 15_000);
}

/** Admitted: still open after 500 ms (a refusal closes at accept). */
async function admitted(h: Held): Promise<boolean> {
  return !(await settlesWithin(h.closed, 500));
}

/** Refused: closed by the server within 2 s. */
async function refusedAtAccept(h: Held): Promise<boolean> {
  return settlesWithin(h.closed, 2000);
}

const refusedBy = (s: Scrape, reason: string): number => s.value('pysftpproxy_connections_refused_total', { reason });

describe('--max-connections-per-ip 2 and --max-connections 4 across --workers 2', () => {
  let product: LocalProduct;
  let admin: number;
  const held: Held[] = [];

  before(async () => {
    product = await startLocalProduct(['ivy'], ['--workers', '2', '--max-connections-per-ip', '2', '--max-connections', '4',
      '--admin-listen', '127.0.0.1:0']);
    await bothWorkersListen(product.proxy);
    admin = await adminPort(product.proxy);
  });
  after(async () => {
    for (const h of held) h.sock.destroy();
    await product?.close();
  });

  test('per address: 2 held over both workers, the 3rd refused, another address admitted; in all: 4 held, the 5th refused', async () => {
    const { proxy } = product;
    const s0 = await scrape(admin);
    const since = proxy.logs().length;
    for (let i = 0; i < 2; i++) {
      const h = await silent(proxy.port, '127.0.0.2');
      held.push(h);
      assert.ok(await admitted(h), `connection ${i + 1} of 127.0.0.2 admitted`);
    }
    // A worker logs 'connection' once its gate (IPC round trips to the primary) admitted it,
    // which "still open after 500 ms" does not prove: wait for both lines.
    const workers = () => [...new Set(proxy.logs().slice(since)
      .filter((l) => l.msg === 'connection' && String(l['remote']).startsWith('127.0.0.2:')).map((l) => l['worker']))].sort();
    await eventually(() => workers().length === 2, 5000);
    assert.deepEqual(workers(), [1, 2], 'the two connections went to different workers');

    const third = await silent(proxy.port, '127.0.0.2');
    assert.ok(await refusedAtAccept(third), 'the 3rd from 127.0.0.2 is closed at accept');
    await proxy.waitForLog((l) => l.msg === 'connection refused: max-connections-per-ip reached' && l['limit'] === 2
      && String(l['remote']).startsWith('127.0.0.2:'), 5000, since);

    for (let i = 0; i < 2; i++) {
      const h = await silent(proxy.port, '127.0.0.3');
      held.push(h);
      assert.ok(await admitted(h), `connection ${i + 1} of 127.0.0.3 admitted: another address is not affected`);
    }
    const fifth = await silent(proxy.port, '127.0.0.4');
    assert.ok(await refusedAtAccept(fifth), 'the 5th connection of the server is closed at accept, from any address');
    await proxy.waitForLog((l) => l.msg === 'connection refused: max-connections reached' && l['limit'] === 4, 5000, since);

    const s = await scrapeUntil(admin, (x) => refusedBy(x, 'max-connections') > refusedBy(s0, 'max-connections'));
    assert.equal(refusedBy(s, 'max-connections-per-ip') - refusedBy(s0, 'max-connections-per-ip'), 1);
    assert.equal(refusedBy(s, 'max-connections') - refusedBy(s0, 'max-connections'), 1);
  });

  test('a connection that ends gives its places back, on whichever worker it was', async () => {
    const { proxy } = product;
    held.pop()!.sock.destroy(); // one of 127.0.0.3's
    const again = await eventually(async () => {
      const h = await silent(proxy.port, '127.0.0.4');
      if (await admitted(h)) return h;
      h.sock.destroy();
      return undefined;
    }, 5000);
    assert.ok(again, 'a new address gets the freed place');
    held.push(again);
    held.shift()!.sock.destroy(); // one of 127.0.0.2's
    const back = await eventually(async () => {
      const h = await silent(proxy.port, '127.0.0.2');
      if (await admitted(h)) return h;
      h.sock.destroy();
      return undefined;
    }, 5000);
    assert.ok(back, '127.0.0.2 gets its place back');
    held.push(back);
  });
});

describe('--max-sessions-per-user 3 across --workers 2', () => {
  let product: LocalProduct;
  let admin: number;
  let hostKey: Buffer;
  const clients: ssh2.Client[] = [];

  before(async () => {
    product = await startLocalProduct(['jane', 'kurt'], ['--workers', '2', '--max-sessions-per-user', '3', '--admin-listen', '127.0.0.1:0']);
    await bothWorkersListen(product.proxy);
    admin = await adminPort(product.proxy);
    hostKey = Buffer.from(parsePublicLine(await productHostKeyLine(product.tmp.path + '/data')).blobBase64, 'base64');
  });
  after(async () => {
    for (const c of clients) c.end();
    await product?.close();
  });

  const login = (user: string) => sshLogin({ port: product.proxy.port, user, keyPath: product.key(user).privatePath, hostKey });
  const refusals = (s: Scrape): number => s.value('pysftpproxy_logins_total', { result: 'refused', reason: 'max-sessions-per-user' });

  test('3 sessions over both workers, the 4th refused (logged, counted), another user unaffected', async () => {
    const { proxy } = product;
    const s0 = await scrape(admin);
    const since = proxy.logs().length;
    for (let i = 0; i < 3; i++) clients.push(await login('jane'));
    await eventually(() => proxy.logs().slice(since).filter((l) => l.msg === 'login accepted').length === 3);
    const workers = proxy.logs().slice(since).filter((l) => l.msg === 'login accepted').map((l) => l['worker']);
    assert.deepEqual([...new Set(workers)].sort(), [1, 2], 'jane\'s sessions are on both workers');

    await assert.rejects(login('jane'), /authentication methods failed/);
    const line = await proxy.waitForLog((l) => l.msg === 'login refused' && l['user'] === 'jane', 5000, since);
    assert.equal(line['reason'], 'the user has 3 sessions open (--max-sessions-per-user)');
    const s = await scrapeUntil(admin, (x) => refusals(x) > refusals(s0));
    assert.equal(refusals(s) - refusals(s0), 1);

    clients.push(await login('kurt'));
  });

  test('a session that ends gives its place back', async () => {
    const jane = clients.shift()!;
    jane.end();
    const again = await eventually(() => login('jane').catch(() => undefined), 5000);
    assert.ok(again, 'jane logs in again once one of her sessions ended');
    clients.push(again);
    await assert.rejects(login('jane'), /authentication methods failed/, 'and she is at 3 again');
  });
});
