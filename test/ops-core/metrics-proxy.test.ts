/**
 * GET /metrics in proxy mode after real traffic (OpenSSH sftp and ssh2 clients, Redis, sshd
 * upstreams): the scrape passes `promtool check metrics`, and each figure moves by what was done.
 * Assertions are on deltas between two scrapes, so the tests of this file do not depend on each
 * other's order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  adminPort, freePort, promtoolCheck, scrape, scrapeUntil, writeRandomFile, type Scrape,
} from '../harness/index.js';
import { ProxyStack, type TestUser } from '../proxy/stack.js';

const MiB = 1024 * 1024;
const refused = (s: Scrape, reason: string): number => s.value('pysftpproxy_logins_total', { result: 'refused', reason });
const accepted = (s: Scrape): number => s.value('pysftpproxy_logins_total', { result: 'accepted', reason: 'ok' });

describe('metrics, proxy mode', () => {
  let stack: ProxyStack;
  let admin: number;
  let alice: TestUser;

  before(async () => {
    stack = await ProxyStack.start({ proxyEnv: { SFTPPROXY_ADMIN_LISTEN: '127.0.0.1:0' } });
    admin = await adminPort(stack.proxy.handle);
    alice = await stack.addUser('alice');
  });
  after(async () => { await stack?.close(); });

  test('a live scrape passes promtool check metrics and declares every metric with its type', async () => {
    assert.equal((await stack.sftp(alice, [`put ${stack.payload} lint.txt`])).code, 0);
    const s = await scrape(admin);
    const lint = await promtoolCheck(s.text);
    assert.equal(lint.code, 0, `promtool check metrics:\n${lint.output}`);
    const types: Record<string, string> = {
      pysftpproxy_connections_total: 'counter', pysftpproxy_logins_total: 'counter', pysftpproxy_sessions_active: 'gauge',
      pysftpproxy_transfer_bytes_total: 'counter', pysftpproxy_upstream_connect_seconds: 'histogram',
      pysftpproxy_upstream_failures_total: 'counter', pysftpproxy_store_up: 'gauge', pysftpproxy_bans_total: 'counter',
      pysftpproxy_connections_refused_total: 'counter', pysftpproxy_connections_closed_total: 'counter', pysftpproxy_ready: 'gauge',
      // process metrics
      process_cpu_seconds_total: 'counter', process_resident_memory_bytes: 'gauge', process_open_fds: 'gauge',
      process_start_time_seconds: 'gauge', nodejs_heap_size_used_bytes: 'gauge', nodejs_eventloop_lag_p99_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) assert.equal(s.type(name), type, `# TYPE of ${name}`);
    assert.ok(s.value('process_resident_memory_bytes') > 1e6);
  });

  test('connections and logins: accepted, and refused by reason', async () => {
    const unregistered = await stack.addUser('nokey', { register: false });
    const stranger = await stack.addUser('stranger', { registerAs: alice.name });
    const disabled = await stack.addUser('off');
    await stack.setRoute(disabled.name, stack.routeTo(stack.upstreams[0]!, { active: 'false' }));
    const before = await scrape(admin);

    assert.equal((await stack.sftp(alice, ['pwd'])).code, 0);
    for (const u of [unregistered, stranger, disabled]) assert.notEqual((await stack.sftp(u, ['pwd'])).code, 0, `${u.name} got in`);

    const s = await scrapeUntil(admin, (x) => refused(x, 'inactive') > refused(before, 'inactive'));
    assert.equal(s.value('pysftpproxy_connections_total') - before.value('pysftpproxy_connections_total'), 4);
    assert.equal(accepted(s) - accepted(before), 1);
    // OpenSSH offers its one key (IdentitiesOnly) once: one refused attempt each.
    assert.equal(refused(s, 'unknown-key') - refused(before, 'unknown-key'), 1);
    assert.equal(refused(s, 'wrong-key') - refused(before, 'wrong-key'), 1);
    assert.equal(refused(s, 'inactive') - refused(before, 'inactive'), 1);
  });

  test('sessions_active is 1 while a session is open and 0 after it ends, also when the client vanishes', async () => {
    const before = await scrape(admin);
    assert.equal(before.value('pysftpproxy_sessions_active'), 0);
    const client = await stack.ssh2({ user: alice.name, privateKey: readFileSync(alice.key.privatePath) });
    await ProxyStack.sftpOf(client);
    let s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_sessions_active') === 1);
    assert.equal(s.value('pysftpproxy_sessions_active'), 1);
    assert.equal(s.value('pysftpproxy_connections_active', { state: 'authenticated' }), 1);
    client.end();
    s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_sessions_active') === 0);
    assert.equal(s.value('pysftpproxy_sessions_active'), 0);
    assert.equal(s.value('pysftpproxy_connections_active', { state: 'authenticated' }), 0);

    // A client whose TCP connection just drops (no SSH goodbye).
    const gone = await stack.ssh2({ user: alice.name, privateKey: readFileSync(alice.key.privatePath) });
    await ProxyStack.sftpOf(gone);
    await scrapeUntil(admin, (x) => x.value('pysftpproxy_sessions_active') === 1);
    (gone as unknown as { _sock: { destroy(): void } })._sock.destroy();
    s = await scrapeUntil(admin, (x) => x.value('pysftpproxy_sessions_active') === 0);
    assert.equal(s.value('pysftpproxy_sessions_active'), 0);
    assert.equal(s.value('pysftpproxy_connections_active', { state: 'authenticated' }), 0);
  });

  test('transfer_bytes counts the SFTP channel bytes of a 4 MiB upload and download, live and after', async () => {
    const file = join(stack.localDir, 'four.bin');
    await writeRandomFile(file, 4 * MiB);
    const up = (s: Scrape): number => s.value('pysftpproxy_transfer_bytes_total', { direction: 'up' });
    const down = (s: Scrape): number => s.value('pysftpproxy_transfer_bytes_total', { direction: 'down' });
    const s0 = await scrape(admin);
    assert.equal((await stack.sftp(alice, [`put ${file} four.bin`])).code, 0);
    const s1 = await scrapeUntil(admin, (x) => up(x) - up(s0) >= 4 * MiB);
    // Channel bytes: the file plus SFTP framing (13-byte WRITE headers, handle, INIT, OPEN...).
    assert.ok(up(s1) - up(s0) >= 4 * MiB && up(s1) - up(s0) < 4.1 * MiB, `up moved ${up(s1) - up(s0)}`);
    assert.ok(down(s1) - down(s0) < 0.1 * MiB, `down moved ${down(s1) - down(s0)} for an upload`);

    assert.equal((await stack.sftp(alice, ['get four.bin four.back'])).code, 0);
    const s2 = await scrapeUntil(admin, (x) => down(x) - down(s1) >= 4 * MiB);
    assert.ok(down(s2) - down(s1) >= 4 * MiB && down(s2) - down(s1) < 4.1 * MiB, `down moved ${down(s2) - down(s1)}`);
    assert.ok(up(s2) - up(s1) < 0.1 * MiB, `up moved ${up(s2) - up(s1)} for a download`);

    // A session still open counts what it moved so far.
    const client = await stack.ssh2({ user: alice.name, privateKey: readFileSync(alice.key.privatePath) });
    try {
      const sftp = await ProxyStack.sftpOf(client);
      await new Promise<void>((resolve, reject) => sftp.writeFile('live.bin', Buffer.alloc(MiB, 7), (err) => (err ? reject(err) : resolve())));
      const s3 = await scrapeUntil(admin, (x) => up(x) - up(s2) >= MiB);
      assert.ok(up(s3) - up(s2) >= MiB, `a live session's upload moved up by ${up(s3) - up(s2)}`);
    } finally {
      client.end();
    }
  });

  test('the upstream connect histogram counts each dial; failures are counted by cause', async () => {
    const closedPort = await freePort();
    const nowhere = await stack.addUser('nowhere', { route: { remote: '127.0.0.1', port: String(closedPort), user: 'root' } });
    const refusing = await stack.addUpstream({ authorize: false });
    const unwelcome = await stack.addUser('unwelcome', { upstream: refusing });
    const s0 = await scrape(admin);
    assert.equal((await stack.sftp(alice, ['pwd'])).code, 0);
    assert.notEqual((await stack.sftp(nowhere, ['pwd'])).code, 0);
    assert.notEqual((await stack.sftp(unwelcome, ['pwd'])).code, 0);
    const failures = (s: Scrape, cause: string): number => s.value('pysftpproxy_upstream_failures_total', { cause });
    const s = await scrapeUntil(admin, (x) => failures(x, 'auth') > failures(s0, 'auth'));
    const count = (x: Scrape): number => x.value('pysftpproxy_upstream_connect_seconds_count');
    assert.equal(count(s) - count(s0), 1, 'one successful dial');
    assert.ok(s.value('pysftpproxy_upstream_connect_seconds_sum') > s0.value('pysftpproxy_upstream_connect_seconds_sum'));
    assert.equal(failures(s, 'unreachable') - failures(s0, 'unreachable'), 1);
    assert.equal(failures(s, 'auth') - failures(s0, 'auth'), 1);
  });
});
