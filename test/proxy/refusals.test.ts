/**
 * Logins the proxy must refuse, each checked four ways: the client fails and
 * nothing reaches the upstream; the proxy logs `login refused` with a reason
 * that says why; the client is told nothing about internals (Redis, upstream
 * address); the proxy keeps serving (a good user logs in right after).
 * Also: SHA-1 `ssh-rsa` signatures are refused while RSA with rsa-sha2-256 works.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LogLine } from '../harness/index.js';
import { assertNoInternals, ProxyStack, type RouteFields, type TestUser, type Upstream } from './stack.js';

describe('proxy refusals', () => {
  let stack: ProxyStack;
  let up: Upstream;
  let good: TestUser;
  let payload: string;

  before(async () => {
    stack = await ProxyStack.start();
    up = stack.upstreams[0]!;
    good = await stack.addUser('good');
    payload = stack.payload;
  });
  after(() => stack?.close());

  /** Connections the upstream sshd has accepted so far. */
  async function upstreamConnections(): Promise<number> {
    return ((await up.sshd.log()).match(/^Connection from /gm) ?? []).length;
  }

  /** A good user logs in and uploads right after: the proxy still serves. */
  const assertStillServing = (tag: string): Promise<void> => stack.assertStillServing(good, tag);

  /**
   * Log in with OpenSSH sftp as `name` with `keyPath`, try an upload; expect
   * a refusal. Returns the `login refused` log line.
   */
  async function expectRefusedSftp(name: string, keyPath: string, extraArgs: string[] = [], why = ''): Promise<LogLine> {
    const remote = `refused-${name}.txt`;
    const since = stack.proxy.mark();
    const dialsBefore = await upstreamConnections();
    const res = await stack.sftp({ name, keyPath }, [`put ${payload} ${remote}`], { extraArgs });
    assert.notEqual(res.code, 0, `${why}sftp as ${name} should have failed:\n${res.stdout}\n${res.stderr}`);
    assert.equal(res.timedOut, false, 'the client hung instead of being refused');
    assert.match(res.stderr, /Permission denied/, `client stderr:\n${res.stderr}`);
    assert.equal(existsSync(join(up.dir, remote)), false, 'a refused login wrote upstream');
    assert.equal(await upstreamConnections(), dialsBefore, 'the proxy dialed the upstream for a refused login');
    assertNoInternals(res.stderr, stack);
    const line = await stack.proxy.waitRefused(name, since);
    assert.equal(typeof line.reason, 'string', `login refused line without a reason: ${JSON.stringify(line)}`);
    assert.equal(stack.proxy.logs(since).some((l) => l.msg === 'login accepted' && l.user === name), false,
      'login accepted was logged for a refused login');
    return line;
  }

  test('unknown key', async () => {
    const u = await stack.addUser('unknown', { register: false });
    const line = await expectRefusedSftp(u.name, u.key.privatePath);
    assert.match(line.reason as string, /not registered/);
    assert.equal(line.key, u.key.fingerprint, 'the log names the offered key by fingerprint');
    await assertStillServing('unknown-key');
  });

  test('key registered to another user name', async () => {
    const owner = await stack.addUser('owner');
    const victim = await stack.addUser('victim');
    // owner's key, victim's login name (victim exists, with a route).
    const line = await expectRefusedSftp(victim.name, owner.key.privatePath);
    assert.match(line.reason as string, /belongs to another user/);
    await assertStillServing('other-user');
  });

  test('user without a route hash', async () => {
    const u = await stack.addUser('noroute', { route: null });
    const line = await expectRefusedSftp(u.name, u.key.privatePath);
    assert.match(line.reason as string, /no route/);
    await assertStillServing('no-route');
  });

  const badRoutes: { label: string; fields: (p: number) => RouteFields; field: string; value: string }[] = [
    { label: 'non-numeric port', fields: () => ({ remote: '127.0.0.1', port: 'abc', user: 'root' }), field: 'port', value: 'abc' },
    { label: 'empty remote', fields: (p) => ({ remote: '', port: String(p), user: 'root' }), field: 'remote', value: '' },
    { label: 'port 70000', fields: () => ({ remote: '127.0.0.1', port: '70000', user: 'root' }), field: 'port', value: '70000' },
  ];
  for (const bad of badRoutes) {
    test(`bad route data: ${bad.label} (the log names the field)`, async () => {
      const u = await stack.addUser('badroute', { route: bad.fields(up.sshd.port) });
      const line = await expectRefusedSftp(u.name, u.key.privatePath);
      assert.ok((line.reason as string).includes(`field "${bad.field}" ${JSON.stringify(bad.value)}`),
        `reason does not name field ${bad.field} and its value: ${String(line.reason)}`);
      await assertStillServing(`bad-${bad.field}-${bad.value || 'empty'}`);
    });
  }

  test('a route stored as a string instead of a hash (WRONGTYPE): bad data, not an outage', async () => {
    const u = await stack.addUser('wrongtype', { route: null });
    await stack.db.set(`pysftpproxy:user:${u.name}`, 'remote=127.0.0.1');
    const line = await expectRefusedSftp(u.name, u.key.privatePath);
    assert.match(line.reason as string, new RegExp(`bad data in pysftpproxy:user:${u.name}: expected a hash \\(WRONGTYPE\\)`));
    assert.ok(stack.proxy.logs().some((l) => l.msg === 'bad data in redis' && l.key === `pysftpproxy:user:${u.name}`));
    assert.ok(!stack.proxy.logs().some((l) => /redis unavailable/.test(String(l.msg))), 'no outage was reported');
    await assertStillServing('wrongtype');
  });

  test('password login (ssh2 client, password only) is refused', async () => {
    const u = await stack.addUser('pw');
    const since = stack.proxy.mark();
    await assert.rejects(stack.ssh2({ user: u.name, password: 'secret' }), (err: Error & { level?: string }) => {
      assert.equal(err.level, 'client-authentication', `unexpected error: ${err.message}`);
      assert.doesNotMatch(err.message, /redis/i);
      return true;
    });
    const line = await stack.proxy.waitRefused(u.name, since);
    assert.equal(line.method, 'password');
    assert.match(`${line.msg} ${String(line.reason ?? '')}`, /only publickey/);
    assert.equal(JSON.stringify(stack.proxy.logs(since)).includes('secret'), false, 'the password reached the log');
    await assertStillServing('password');
  });

  test('ssh2 client with the right key logs in (control for the password test)', async () => {
    const client = await stack.ssh2({ user: good.name, privateKey: readFileSync(good.key.privatePath) });
    try {
      const sftp = await ProxyStack.sftpOf(client);
      const list = await new Promise<string[]>((resolve, reject) =>
        sftp.readdir('.', (err, l) => (err ? reject(err) : resolve(l.map((e) => e.filename)))));
      assert.ok(list.includes('ok-unknown-key.txt'), `listing: ${list.join(', ')}`);
    } finally {
      client.end();
    }
  });

  test('RSA key with rsa-sha2-256 (OpenSSH default and forced) works', async () => {
    const u = await stack.addUser('rsa', { keyType: 'rsa' });
    for (const extraArgs of [[], ['-o', 'PubkeyAcceptedAlgorithms=rsa-sha2-256']]) {
      const remote = `rsa-${extraArgs.length}.txt`;
      const res = await stack.sftp(u, [`put ${payload} ${remote}`], { extraArgs });
      assert.equal(res.code, 0, `RSA login (${extraArgs.join(' ') || 'defaults'}) failed:\n${res.stderr}`);
      assert.ok(existsSync(join(up.dir, remote)));
    }
  });

  test('RSA key with rsa-sha2-512 only (OpenSSH -o PubkeyAcceptedAlgorithms=rsa-sha2-512) works', async () => {
    const u = await stack.addUser('rsa512', { keyType: 'rsa' });
    const res = await stack.sftp(u, [`put ${payload} rsa-512.txt`], { extraArgs: ['-v', '-o', 'PubkeyAcceptedAlgorithms=rsa-sha2-512'] });
    const sigAlgs = res.stderr.split('\n').find((l) => l.includes('server-sig-algs=')) ?? '(not shown)';
    assert.equal(res.code, 0, 'an RSA client limited to rsa-sha2-512 cannot log in. The proxy (ssh2 1.17 ' +
      'lib/protocol/Protocol.js sendExtInfo) advertises a server-sig-algs list with a missing comma, ' +
      `"...ecdsa-sha2-nistp521rsa-sha2-512...", so OpenSSH finds no mutual algorithm. Client saw: ${sigAlgs.trim()}`);
    assert.ok(existsSync(join(up.dir, 'rsa-512.txt')));
  });

  test('SHA-1 ssh-rsa signature (OpenSSH -o PubkeyAcceptedAlgorithms=ssh-rsa) is refused', async () => {
    const u = await stack.addUser('sha1', { keyType: 'rsa' });
    // OpenSSH 9.2 still signs with SHA-1 when told to, and the proxy lists ssh-rsa in server-sig-algs.
    const line = await expectRefusedSftp(u.name, u.key.privatePath, ['-o', 'PubkeyAcceptedAlgorithms=ssh-rsa'],
      'the proxy accepted an ssh-rsa (SHA-1) signature (ssh2 reports ctx.hashAlgo undefined, not "sha1", for ' +
      'ssh-rsa; src/server/verify-signature.ts only refuses "sha1"): ');
    assert.match(line.reason as string, /SHA-1/);
    await assertStillServing('sha1');
  });
});
