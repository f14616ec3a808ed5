/**
 * Pre-authentication work has bounds: --max-startups caps connections not yet logged in (a flood of
 * silent sockets once filled the descriptor table: 10,000 of them), without letting one flooding
 * address lock others out; --max-connections-per-ip caps what one address holds in any state.
 * Other client addresses are loopback aliases (127.0.0.x), real sources to the kernel.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import {
  adminPort, localUserSetup, makeTempDir, productKnownHosts, runSftp, scrape, scrapeUntil, startProxy,
  type LocalUserSetup, type ProxyHandle, type TempDir,
} from '../harness/index.js';
import { settlesWithin } from '../ops-core/clients.js';
import { eventually } from '../proxy/stack.js';

interface Held {
  sock: net.Socket;
  /** Resolves when the server closed it (or it failed). */
  closed: Promise<number>;
}

/** A TCP connection that says nothing; `closed` resolves with ms from connect to its close. */
function silent(port: number, localAddress: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let started = 0;
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - started)));
    sock.on('error', () => {});
    sock.resume(); // read (and drop) the server's banner, or its close would never be seen
    sock.once('connect', () => { started = Date.now(); resolve({ sock, closed }); });
    sock.once('error', reject);
  });
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function login(proxy: ProxyHandle, setup: LocalUserSetup, tmp: string): Promise<{ code: number | null; ms: number }> {
  const knownHosts = await productKnownHosts(tmp, setup.dataDir, proxy.port);
  const started = Date.now();
  const r = await runSftp({ port: proxy.port, user: setup.name, keyPath: setup.key.privatePath, knownHostsPath: knownHosts, batch: ['pwd'] });
  return { code: r.code, ms: Date.now() - started };
}

describe('--max-startups 20', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  let proxy: ProxyHandle;
  const held: Held[] = [];
  before(async () => {
    tmp = await makeTempDir('max-startups-');
    setup = await localUserSetup(tmp.path);
    proxy = await startProxy({ args: [...setup.args, '--max-startups', '20', '--admin-listen', '127.0.0.1:0'] });
  });
  after(async () => {
    for (const h of held) h.sock.destroy();
    await proxy?.stop();
    await tmp?.cleanup();
  });

  test('20 silent connections are held; the 21st from the same address is closed at accept (logged, counted)', async () => {
    const admin = await adminPort(proxy);
    const s0 = await scrape(admin);
    for (let i = 0; i < 20; i++) held.push(await silent(proxy.port, '127.0.0.2'));
    const since = proxy.logs().length;
    const extra = await silent(proxy.port, '127.0.0.2');
    const ms = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms >= 0 && ms < 1000, `the 21st was closed after ${ms} ms (-1: still open after 3 s)`);
    await proxy.waitForLog((l) => l.msg === 'connection refused: max-startups reached' && l.limit === 20, 5000, since);
    const refused = (s: Awaited<ReturnType<typeof scrape>>): number => s.value('pysftpproxy_connections_refused_total', { reason: 'max-startups' });
    const s = await scrapeUntil(admin, (x) => refused(x) > refused(s0));
    assert.equal(refused(s) - refused(s0), 1, 'pysftpproxy_connections_refused_total{reason="max-startups"}');
    assert.equal(s.value('pysftpproxy_connections_active', { state: 'startup' }), 20);
    const stillOpen = await Promise.race([held[0]!.closed, new Promise<number>((r) => setTimeout(() => r(-1), 300))]);
    assert.equal(stillOpen, -1, 'the first 20 are kept');
  });

  test('a user from another address still logs in, in place of one of the flood\'s connections', { timeout: 30_000 }, async () => {
    const r = await login(proxy, setup, tmp.path);
    assert.equal(r.code, 0);
    assert.ok(r.ms < 5000, `login took ${r.ms} ms`);
    const evicted = await Promise.race([Promise.race(held.map((h) => h.closed)), new Promise<number>((r2) => setTimeout(() => r2(-1), 3000))]);
    assert.ok(evicted >= 0, 'one of the flooding address\'s connections made room: ');
    const s = await scrapeUntil(await adminPort(proxy), (x) => x.value('pysftpproxy_connections_closed_total', { reason: 'evicted' }) >= 1);
    assert.equal(s.value('pysftpproxy_connections_closed_total', { reason: 'evicted' }), 1, 'counted as closed_total{reason="evicted"}');
  });

  test('500 silent connections: descriptors stay bounded and a real user logs in quickly', { timeout: 60_000 }, async () => {
    const fdsBefore = openFds(proxy.pid);
    const flood: Array<Promise<Held | undefined>> = [];
    for (let i = 0; i < 500; i++) flood.push(silent(proxy.port, '127.0.0.3').catch(() => undefined));
    const socks = (await Promise.all(flood)).filter((h): h is Held => h !== undefined);
    held.push(...socks);
    const fds = openFds(proxy.pid);
    assert.ok(fds <= fdsBefore + 25, `descriptors ${fdsBefore} -> ${fds} with 500 silent connections`);
    const r = await login(proxy, setup, tmp.path);
    assert.equal(r.code, 0);
    assert.ok(r.ms < 5000, `login took ${r.ms} ms during the flood`);
    assert.equal(proxy.exited, false);
  });
});

describe('--max-connections-per-ip 3', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  let proxy: ProxyHandle;
  const held: Held[] = [];
  before(async () => {
    tmp = await makeTempDir('max-per-ip-');
    setup = await localUserSetup(tmp.path);
    proxy = await startProxy({ args: [...setup.args, '--max-connections-per-ip', '3'] });
  });
  after(async () => {
    for (const h of held) h.sock.destroy();
    await proxy?.stop();
    await tmp?.cleanup();
  });

  test('3 connections from one address are held, the 4th is closed at accept, other addresses are not affected', { timeout: 30_000 }, async () => {
    for (let i = 0; i < 3; i++) held.push(await silent(proxy.port, '127.0.0.4'));
    const since = proxy.logs().length;
    const fourth = await silent(proxy.port, '127.0.0.4');
    const ms = await Promise.race([fourth.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms >= 0 && ms < 1000, `the 4th was closed after ${ms} ms`);
    await proxy.waitForLog((l) => l.msg === 'connection refused: max-connections-per-ip reached' && l.limit === 3, 5000, since);
    const r = await login(proxy, setup, tmp.path);
    assert.equal(r.code, 0, 'a client from 127.0.0.1 logs in');
  });

  test('closing one frees its place', async () => {
    held.shift()!.sock.destroy();
    // The place is free once the server has seen the close, which on a loaded machine may take
    // longer than any fixed wait: try until one is admitted (still open after 500 ms).
    const next = await eventually(async () => {
      const h = await silent(proxy.port, '127.0.0.4');
      if (!(await settlesWithin(h.closed, 500))) return h;
      h.sock.destroy();
      return undefined;
    }, 5000);
    assert.ok(next, 'admitted again');
    held.push(next);
  });
});
