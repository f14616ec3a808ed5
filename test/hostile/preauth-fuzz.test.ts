/**
 * Pre-authentication fuzzer: random and mutated USERAUTH requests (public keys of every type,
 * mutated and random blobs, algorithm names that do or do not match, random signatures, odd user
 * names, other methods) against both modes, many connections at once, for a bounded time. The
 * process never exits, logs no "bug:" line, a session opened before keeps working, and a real
 * login works after. FUZZ_SEED=n replays a run (the seed is printed on failure).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { startLocalTarget, type LocalTarget } from '../clients/fixtures/local-target.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { download, openSftp, sha256, upload } from '../faults/helpers.js';
import { rng } from '../sftp/fuzz-packets.js';
import { blob, MALFORMED_BLOBS, offerKeys, type Offer } from './auth-client.js';

const BUDGET_MS = Number(process.env['FUZZ_MS'] ?? 6000);
const CONCURRENCY = 8;

const seeds: Array<{ algo: string; blob: Buffer }> = [
  ...(['ed25519', ['ecdsa', 256], ['ecdsa', 384], ['ecdsa', 521], ['rsa', 1024], ['rsa', 2048]] as const).map((spec) => {
    const [type, bits] = Array.isArray(spec) ? spec : [spec, undefined];
    const generate = ssh2.utils.generateKeyPairSync as (t: string, o?: { bits: number }) => { public: string };
    const pair = generate(type, bits ? { bits } : undefined);
    const [algo, b64] = pair.public.split(' ');
    return { algo: algo!, blob: Buffer.from(b64!, 'base64') };
  }),
  { algo: 'ssh-dss', blob: blob('ssh-dss', randomBytes(129), randomBytes(21), randomBytes(128), randomBytes(128)) },
  ...MALFORMED_BLOBS,
];

const ALGOS = ['ssh-ed25519', 'ssh-rsa', 'rsa-sha2-256', 'rsa-sha2-512', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'ssh-ed25519-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com', 'x', 'none'];

function mutate(rand: () => number, b: Buffer): Buffer {
  const out = Buffer.from(b);
  switch (Math.floor(rand() * 7)) {
    case 0: // flip a few bytes
      for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n && out.length > 0; i++) out[Math.floor(rand() * out.length)] ^= 1 + Math.floor(rand() * 255);
      return out;
    case 1: return out.subarray(0, Math.floor(rand() * out.length)); // truncate
    case 2: return Buffer.concat([out, randomBytes(1 + Math.floor(rand() * 64))]); // trailing junk
    case 3: { // a length field set to something absurd
      if (out.length < 8) return out;
      const at = 4 * Math.floor(rand() * Math.min(4, Math.floor(out.length / 4)));
      out.writeUInt32BE([0, 1, 0xffffffff, 0x7fffffff, out.length, out.length - at - 3][Math.floor(rand() * 6)]! >>> 0, at);
      return out;
    }
    case 4: return randomBytes(Math.floor(rand() * 600));
    case 5: return blob(ALGOS[Math.floor(rand() * ALGOS.length)]!, ...Array.from({ length: Math.floor(rand() * 5) }, () => randomBytes(Math.floor(rand() * 300))));
    default: return out;
  }
}

function randomOffer(rand: () => number): Offer {
  const seed = seeds[Math.floor(rand() * seeds.length)]!;
  const algo = rand() < 0.8 ? seed.algo : ALGOS[Math.floor(rand() * ALGOS.length)]!;
  const key = rand() < 0.2 ? seed.blob : mutate(rand, seed.blob);
  const sigLen = [0, 1, 64, 65, 256, 512, 2000][Math.floor(rand() * 7)]!;
  return { algo, blob: key, sign: () => randomBytes(sigLen), direct: rand() < 0.3 };
}

function randomUser(rand: () => number, real: string): string {
  const choices = [real, real, 'nobody', '', 'root', 'x'.repeat(300), 'ü'.repeat(200), `${real}\u0000x`, `a\nb`, String(Math.floor(rand() * 1e9))];
  return choices[Math.floor(rand() * choices.length)]!;
}

for (const mode of ['proxy', 'local'] as const) {
  describe(`${mode} mode: pre-auth fuzzer`, () => {
    let target: ProxyTarget | LocalTarget;
    before(async () => { target = mode === 'proxy' ? await startProxyTarget() : await startLocalTarget(); });
    after(async () => { await target?.close(); });

    test(`random and mutated USERAUTH requests for ${BUDGET_MS} ms`, { timeout: BUDGET_MS + 60_000 }, async (t) => {
      const seed = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
      t.diagnostic(`FUZZ_SEED=${seed}`);
      const rand = rng(seed);
      const live = await openSftp(target);
      let connections = 0;
      const deadline = Date.now() + BUDGET_MS;
      const worker = async (): Promise<void> => {
        while (Date.now() < deadline) {
          const offers = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => randomOffer(rand));
          const r = await offerKeys(target.port, randomUser(rand, target.user), offers, { timeoutMs: 5000, closeAfter: true });
          assert.equal(r.authenticated, false, `seed ${seed}: a fuzzed login got in`);
          connections++;
          assert.equal(target.proxy.exited, false, `seed ${seed}: the process exited after ${connections} connections`);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      t.diagnostic(`${connections} connections`);
      assert.ok(connections >= 20, `only ${connections} fuzz connections ran`);
      const data = randomBytes(128 * 1024);
      await upload(live.sftp, 'after-fuzz.bin', data);
      assert.equal(sha256(await download(live.sftp, 'after-fuzz.bin')), sha256(data), `seed ${seed}: the live session broke`);
      live.end();
      const fresh = await openSftp(target);
      fresh.end();
      target.proxy.assertNoBugs();
    });
  });
}
