/**
 * Upstream host key checks (SFTPPROXY_UPSTREAM_HOSTKEYS):
 *  - tofu pins the first key in Redis; an sshd with a new key on the same port
 *    is then refused and the log shows both fingerprints;
 *  - strict trusts only the --known-hosts file (plain or hashed entries);
 *  - a route's `hostkey` pin overrides both;
 *  - off accepts anything and warns at startup.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileCollect, generateKey, knownHostsEntry, startSshd, type GeneratedKey, type LogLine } from '../harness/index.js';
import { assertNoInternals, HOSTKEY_PREFIX, ProxyStack, type ProxyInstance, type TestUser, type Upstream } from './stack.js';

const UNVERIFIED = /could not be verified/;

describe('proxy: upstream host keys', () => {
  let stack: ProxyStack;
  let up: Upstream;
  let user: TestUser;
  let payload: string;
  let stranger: GeneratedKey;
  let pinKey: string;
  let n = 0;

  before(async () => {
    stack = await ProxyStack.start();
    up = stack.upstreams[0]!;
    user = await stack.addUser('hk');
    payload = stack.payload;
    stranger = await generateKey(join(stack.tmp.path, 'keys'), 'ed25519', 'stranger_host_key');
    pinKey = `${HOSTKEY_PREFIX}127.0.0.1:${up.sshd.port}`;
  });
  after(() => stack?.close());

  /** Log in through `proxy` and upload; resolve with the result and the log lines it produced. */
  async function attempt(proxy: ProxyInstance, who: TestUser = user): Promise<{ ok: boolean; remote: string; stderr: string; lines: LogLine[] }> {
    const remote = `hk-${++n}.txt`;
    const since = proxy.mark();
    const res = await stack.sftp(who, [`put ${payload} ${remote}`], { proxy, timeoutMs: 30_000 });
    await proxy.waitSessionEnd(who.name, since);
    const ok = res.code === 0;
    assert.equal(existsSync(join(up.dir, remote)), ok, `exit ${res.code} but upload presence disagrees:\n${res.stderr}`);
    return { ok, remote, stderr: res.stderr, lines: proxy.logs(since) };
  }

  function failure(lines: LogLine[]): string {
    const line = lines.find((l) => l.msg === 'upstream failed');
    assert.ok(line, `no upstream failed line in:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    return String(line.reason);
  }

  test('tofu: the first login pins the upstream key in Redis', async () => {
    await stack.db.del(pinKey);
    const r1 = await attempt(stack.proxy);
    assert.ok(r1.ok, r1.stderr);
    assert.equal(await stack.db.get(pinKey), up.sshd.hostKeyFingerprint);
    assert.ok(r1.lines.some((l) => l.msg === 'upstream host key pinned (first use)'), 'no "pinned" log line');
    const r2 = await attempt(stack.proxy);
    assert.ok(r2.ok, r2.stderr);
    assert.equal(r2.lines.some((l) => l.msg === 'upstream host key pinned (first use)'), false, 'pinned twice');
  });

  test('tofu: an sshd with a new host key on the same port is refused; the log shows both fingerprints', async () => {
    assert.equal(await stack.db.get(pinKey), up.sshd.hostKeyFingerprint);
    await up.sshd.stop();
    // Same port, same directory, same authorized key, but a freshly generated host key.
    const impostor = await startSshd({ port: up.sshd.port, startDir: up.dir, authorizedKeys: [stack.upstreamKey.publicLine] });
    try {
      assert.notEqual(impostor.hostKeyFingerprint, up.sshd.hostKeyFingerprint);
      const r = await attempt(stack.proxy);
      assert.equal(r.ok, false, 'a changed upstream host key was accepted');
      assert.match(r.stderr, UNVERIFIED);
      assertNoInternals(r.stderr, stack);
      const reason = failure(r.lines);
      assert.ok(reason.includes(up.sshd.hostKeyFingerprint), `reason lacks the pinned fingerprint: ${reason}`);
      assert.ok(reason.includes(impostor.hostKeyFingerprint), `reason lacks the offered fingerprint: ${reason}`);
      assert.equal(await stack.db.get(pinKey), up.sshd.hostKeyFingerprint, 'the pin was overwritten');
    } finally {
      await impostor.close();
      await up.sshd.start();
    }
    const back = await attempt(stack.proxy);
    assert.ok(back.ok, `the original upstream is refused after it came back:\n${back.stderr}`);
  });

  test("tofu: the route's hostkey overrides the Redis pin (both ways)", async () => {
    const u = await stack.addUser('hkroute', { route: stack.routeTo(up, { hostkey: up.sshd.hostKeyFingerprint }) });
    await stack.db.set(pinKey, stranger.fingerprint);
    try {
      const r1 = await attempt(stack.proxy, u);
      assert.ok(r1.ok, `route pin matches, Redis pin does not: should work\n${r1.stderr}`);

      await stack.db.set(pinKey, up.sshd.hostKeyFingerprint);
      await stack.setRoute(u.name, stack.routeTo(up, { hostkey: stranger.fingerprint }));
      const r2 = await attempt(stack.proxy, u);
      assert.equal(r2.ok, false, 'route pin does not match: should be refused even though the Redis pin matches');
      assert.match(r2.stderr, UNVERIFIED);
      const reason = failure(r2.lines);
      assert.match(reason, /route's pinned hostkey/);
      assert.ok(reason.includes(stranger.fingerprint) && reason.includes(up.sshd.hostKeyFingerprint), reason);
    } finally {
      await stack.db.set(pinKey, up.sshd.hostKeyFingerprint);
    }
  });

  describe('strict', () => {
    let strict: ProxyInstance;
    let knownHosts: string;
    before(async () => {
      knownHosts = join(stack.tmp.path, 'upstream_known_hosts');
      await writeFile(knownHosts, `${up.sshd.knownHostsLine()}\n`);
      strict = await stack.startProxy({ SFTPPROXY_UPSTREAM_HOSTKEYS: 'strict', SFTPPROXY_KNOWN_HOSTS: knownHosts });
    });
    after(() => strict && stack.stopProxy(strict));

    test('a known_hosts file holding the key (plain `[127.0.0.1]:PORT` entry, as OpenSSH writes it): works', async () => {
      const r = await attempt(strict);
      assert.ok(r.ok, `strict refused an upstream whose key is in known_hosts as ${JSON.stringify(up.sshd.knownHostsLine())}; ` +
        `proxy said: ${r.lines.map((l) => String(l.reason ?? '')).filter(Boolean).join('; ')}. ` +
        '(src/proxy/known-hosts.ts patternMatches does not escape "[" and "]" when turning a host pattern into a RegExp)');
      assert.equal(r.lines.some((l) => l.msg === 'upstream host key pinned (first use)'), false, 'strict mode pinned');
    });

    test('a hashed known_hosts entry (ssh-keygen -H) works too', async () => {
      await writeFile(knownHosts, `${up.sshd.knownHostsLine()}\n`);
      const hashed = await execFileCollect('ssh-keygen', ['-H', '-f', knownHosts], { timeoutMs: 10_000 });
      assert.equal(hashed.code, 0, hashed.stderr);
      try {
        const r = await attempt(strict);
        assert.ok(r.ok, r.stderr);
      } finally {
        await writeFile(knownHosts, `${up.sshd.knownHostsLine()}\n`);
      }
    });

    test('a known_hosts file with another key for the upstream: refused', async () => {
      await writeFile(knownHosts, `${knownHostsEntry(stranger.publicLine, up.sshd.port)}\n`);
      try {
        const r = await attempt(strict);
        assert.equal(r.ok, false, 'a host key missing from known_hosts was accepted');
        assert.match(r.stderr, UNVERIFIED);
        assertNoInternals(r.stderr, stack);
        const reason = failure(r.lines);
        assert.ok(reason.includes(up.sshd.hostKeyFingerprint), reason);
        assert.ok(reason.includes(knownHosts), `reason does not name the file: ${reason}`);

        // The route's hostkey overrides the file.
        const u = await stack.addUser('hkstrict', { route: stack.routeTo(up, { hostkey: up.sshd.hostKeyFingerprint }) });
        const r2 = await attempt(strict, u);
        assert.ok(r2.ok, `route hostkey should override known_hosts:\n${r2.stderr}`);
      } finally {
        await writeFile(knownHosts, `${up.sshd.knownHostsLine()}\n`);
      }
    });

    test('strict without a known_hosts file: refused, unless the route pins the key', async () => {
      const bare = await stack.startProxy({ SFTPPROXY_UPSTREAM_HOSTKEYS: 'strict' });
      try {
        const r = await attempt(bare);
        assert.equal(r.ok, false, 'strict without known_hosts accepted an upstream');
        assert.match(r.stderr, UNVERIFIED);
        assert.match(failure(r.lines), /no --known-hosts file/);

        const u = await stack.addUser('hkbare', { route: stack.routeTo(up, { hostkey: up.sshd.hostKeyFingerprint }) });
        const r2 = await attempt(bare, u);
        assert.ok(r2.ok, r2.stderr);
      } finally {
        await stack.stopProxy(bare);
      }
    });
  });

  test('off: anything is accepted, and the proxy warns at startup', async () => {
    assert.equal(stack.proxy.logs().some((l) => /not checked/.test(String(l.msg))), false, 'the tofu proxy warned');
    const off = await stack.startProxy({ SFTPPROXY_UPSTREAM_HOSTKEYS: 'off' });
    try {
      const warn = off.logs().find((l) => /upstream host keys are not checked/.test(String(l.msg)));
      assert.ok(warn, 'no startup warning for --upstream-hostkeys off');
      assert.equal(warn.level, 40, 'the warning is not at warn level');
      await stack.db.set(pinKey, stranger.fingerprint); // a tofu proxy would refuse now
      const r = await attempt(off);
      assert.ok(r.ok, r.stderr);
      assert.equal(await stack.db.get(pinKey), stranger.fingerprint, 'off mode touched the tofu pin');
    } finally {
      await stack.db.set(pinKey, up.sshd.hostKeyFingerprint);
      await stack.stopProxy(off);
    }
  });
});
