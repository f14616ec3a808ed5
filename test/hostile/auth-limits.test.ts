/**
 * Authentication attempts per connection are bounded (--max-auth-tries, default 6 as OpenSSH's
 * MaxAuthTries: a probe once made 3,000 attempts in 0.6 s on one connection), user names are
 * client input (a 33 KB name once gave 87 MB of log in 20 s), and the key exchange offers no
 * finite-field group unless configured (diffie-hellman-group18-sha512 costs ~16 ms of CPU a
 * handshake; 64 a second stalled every login).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  adminPort, localUserSetup, makeTempDir, scrape, scrapeUntil, startProxy, type LocalUserSetup, type ProxyHandle, type TempDir,
} from '../harness/index.js';
import { offerKeys, signer, type Offer } from './auth-client.js';

function wrongKeys(n: number): Offer[] {
  return Array.from({ length: n }, () => ({ algo: 'ssh-ed25519', blob: Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]) }));
}

describe('authentication limits (local mode, users file)', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  let proxy: ProxyHandle;
  let admin: number;
  before(async () => {
    tmp = await makeTempDir('auth-limits-');
    setup = await localUserSetup(tmp.path);
    proxy = await startProxy({ args: [...setup.args, '--admin-listen', '127.0.0.1:0'] });
    admin = await adminPort(proxy);
  });
  after(async () => { await proxy?.stop(); await tmp?.cleanup(); });

  test('after 6 refused keys the connection is closed; the 7th is never asked for (logged, counted)', async () => {
    const since = proxy.logs().length;
    const closedBy = (s: Awaited<ReturnType<typeof scrape>>): number => s.value('pysftpproxy_connections_closed_total', { reason: 'max-auth-tries' });
    const refusedAttempts = (s: Awaited<ReturnType<typeof scrape>>): number =>
      s.find('pysftpproxy_logins_total', { result: 'refused' }).reduce((n, x) => n + x.value, 0);
    const s0 = await scrape(admin);
    const r = await offerKeys(proxy.port, setup.name, wrongKeys(20));
    assert.equal(r.authenticated, false);
    assert.equal(r.end, 'closed');
    assert.ok(r.offered <= 7, `the client got to offer ${r.offered} keys`);
    const line = await proxy.waitForLog((l) => l.msg === 'too many authentication failures: connection closed', 5000, since);
    assert.equal(line['failures'], 6);
    const refused = proxy.logs().slice(since).filter((l) => l.msg === 'login refused');
    assert.equal(refused.length, 6);
    const s = await scrapeUntil(admin, (x) => closedBy(x) > closedBy(s0));
    assert.equal(closedBy(s) - closedBy(s0), 1, 'pysftpproxy_connections_closed_total{reason="max-auth-tries"}');
    assert.equal(refusedAttempts(s) - refusedAttempts(s0), 6, 'each refused attempt in pysftpproxy_logins_total');
  });

  test('the right key after 5 wrong ones still gets in (the 6th attempt)', async () => {
    const key = setup.key;
    const good: Offer = { algo: key.algorithm, blob: Buffer.from(key.blobBase64, 'base64'), sign: signer(readFileSync(key.privatePath)) };
    const r = await offerKeys(proxy.port, setup.name, [...wrongKeys(5), good], { closeAfter: true });
    assert.equal(r.authenticated, true);
  });

  test('--max-auth-tries 2: closed after two', async () => {
    const p2 = await startProxy({ args: [...setup.args, '--max-auth-tries', '2'] });
    try {
      const r = await offerKeys(p2.port, setup.name, wrongKeys(10));
      assert.equal(r.end, 'closed');
      assert.ok(r.offered <= 3, `offered ${r.offered}`);
      await p2.waitForLog((l) => l.msg === 'too many authentication failures: connection closed' && l['failures'] === 2, 5000);
    } finally {
      await p2.stop();
    }
  });

  test('a 33 KB user name is refused before any store lookup, and logged shortened', async () => {
    const since = proxy.logs().length;
    const name = 'x'.repeat(33 * 1024);
    await offerKeys(proxy.port, name, wrongKeys(3));
    await proxy.waitForLog((l) => l.msg === 'too many authentication failures: connection closed' || l.msg === 'connection closed before login', 5000, since);
    const lines = proxy.logs().slice(since).filter((l) => typeof l['user'] === 'string');
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok(String(l['user']).length <= 130, `logged user field of ${String(l['user']).length} characters`);
    assert.ok(lines.some((l) => l['reason'] === 'user name longer than 256 bytes'));
  });

  test('a client offering only diffie-hellman-group18-sha512 finds no common key exchange', async () => {
    const r = await offerKeys(proxy.port, setup.name, wrongKeys(1), { kex: ['diffie-hellman-group18-sha512'] });
    assert.equal(r.authenticated, false);
    assert.match(r.error ?? '', /no matching key exchange/i);
  });

  test('--kex can offer it again', async () => {
    const p2 = await startProxy({ args: [...setup.args, '--kex', 'curve25519-sha256,diffie-hellman-group18-sha512'] });
    try {
      const key = setup.key;
      const good: Offer = { algo: key.algorithm, blob: Buffer.from(key.blobBase64, 'base64'), sign: signer(readFileSync(key.privatePath)) };
      const r = await offerKeys(p2.port, setup.name, [good], { kex: ['diffie-hellman-group18-sha512'], closeAfter: true });
      assert.equal(r.authenticated, true, r.error);
    } finally {
      await p2.stop();
    }
  });
});
