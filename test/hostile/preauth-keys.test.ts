/**
 * One unauthenticated packet must not take the server down: public-key requests with malformed
 * key blobs of every type (ssh2's parser used to throw on some, inside our async handler, and
 * the unhandled rejection ended the process with every live transfer), as key queries and as
 * signed requests, in both modes. A live SFTP session survives them, the attempts are refused
 * with a reason in the log, and a real login still works. The harness fails the test if the
 * product logged a "bug:" line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalTarget, type LocalTarget } from '../clients/fixtures/local-target.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { openSftp, roundTrip } from '../faults/helpers.js';
import { MALFORMED_BLOBS, offerKeys } from './auth-client.js';

for (const mode of ['proxy', 'local'] as const) {
  describe(`${mode} mode: malformed public keys before authentication`, () => {
    let target: ProxyTarget | LocalTarget;
    before(async () => { target = mode === 'proxy' ? await startProxyTarget() : await startLocalTarget(); });
    after(async () => { await target?.close(); });

    test('every malformed key, queried and signed, is refused; the process and a live session go on', { timeout: 60_000 }, async () => {
      const live = await openSftp(target);
      try {
        const since = target.logs().length;
        const seen: string[] = [];
        for (const bad of MALFORMED_BLOBS) {
          // One offer per connection: the query; then the same blob with a signature attached.
          const r = await offerKeys(target.port, target.user, [{ algo: bad.algo, blob: bad.blob }, { algo: bad.algo, blob: bad.blob }]);
          assert.equal(r.authenticated, false, bad.name);
          seen.push(`${bad.name}: offered ${r.offered}, ${r.end}${r.error ? ` (${r.error})` : ''}`);
          assert.equal(target.proxy.exited, false, `the process exited after ${bad.name}`);
        }
        const refusals = target.logs().slice(since).filter((l) => l.msg === 'login refused');
        // Said in full if it fails (it did once in a loaded run, not reproduced): what each
        // client saw and what the server logged meanwhile.
        const logged = target.logs().slice(since).map((l) => `${String(l.msg)}${l.reason ? `: ${String(l.reason)}` : ''}`);
        assert.ok(refusals.length >= MALFORMED_BLOBS.length,
          `refusal lines: ${refusals.length}\nclients:\n${seen.join('\n')}\nlogged:\n${logged.slice(0, 40).join('\n')}`);
        assert.ok(refusals.some((l) => l.reason === 'unparseable public key'), JSON.stringify(refusals.slice(0, 3)));
        await roundTrip(live.sftp, 'after-malformed.bin', 256 * 1024); // the live session still moves bytes
        const fresh = await openSftp(target);
        fresh.end();
      } finally {
        live.end();
      }
      target.proxy.assertNoBugs();
    });
  });
}
