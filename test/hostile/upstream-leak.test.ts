/**
 * A client that sends a valid signed login and closes at once must not leave an upstream SSH
 * connection behind: ssh2 can report the login ('ready') after the client's close, and the proxy
 * used to dial upstream then and keep that connection forever (22 of 50 in one probe run; 6-7 of
 * 80 in each of three runs of this test before the fix). The sshd upstream is real; what the
 * test counts is its established TCP connections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileCollect } from '../harness/index.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { openSftp, waitUntil } from '../faults/helpers.js';
import { offerKeys, signer } from './auth-client.js';

let target: ProxyTarget;
before(async () => { target = await startProxyTarget(); });
after(async () => { await target?.close(); });

/** Established TCP connections to the upstream sshd's port (the proxy's side of each). */
async function upstreamConnections(): Promise<number> {
  const r = await execFileCollect('ss', ['-Htn', 'state', 'established', 'dst', `127.0.0.1:${target.sshd.port}`]);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

test('80 clients that close right after their signed login leave no upstream connection open', { timeout: 60_000 }, async () => {
  const key = target.keyFor('ed25519');
  const blob = Buffer.from(key.blobBase64, 'base64');
  const sign = signer(readFileSync(key.privatePath));
  const since = target.logs().length;
  const runs = [];
  for (let i = 0; i < 80; i++) {
    // Close at different moments around the proxy's answer and its dial.
    const delay = [0, 0, 0, 1, 2, 5][i % 6]!;
    runs.push(offerKeys(target.port, target.user, [{ algo: key.algorithm, blob, sign, direct: i % 4 !== 3 }], {
      afterSign: (sock) => (delay === 0 ? sock.destroy() : void setTimeout(() => sock.destroy(), delay)),
      timeoutMs: 10_000,
    }));
    if (i % 10 === 9) await Promise.all(runs.splice(0));
  }
  await Promise.all(runs);
  // Dials in flight finish or are dropped within the connect timeout; give them a moment.
  await waitUntil(async () => (await upstreamConnections()) === 0, 8000, 'no established upstream connections')
    .catch(async (err: Error) => { throw new Error(`${err.message}: ${await upstreamConnections()} still open`); });
  await sleep(500);
  assert.equal(await upstreamConnections(), 0, 'an upstream connection reappeared');
  const accepted = target.logs().slice(since).filter((l) => l.msg === 'login accepted').length;
  assert.ok(accepted > 0, 'some logins got as far as being accepted (the race the test is about)');
  // And the proxy still serves a real session end to end.
  const s = await openSftp(target);
  s.end();
});
