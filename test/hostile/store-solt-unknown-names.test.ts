/**
 * Issue #11: logins by names nobody has must not make the solt store read every user again. With
 * 20,000 users in a real redis-server, a burst of unknown names costs one SMEMBERS of the ids (and
 * no user fetch); the same names again cost nothing; a user added without an announcement is still
 * found at their first login. Counted with Redis's own INFO commandstats.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { soltKeysKey, soltUserKey } from '../../src/auth/redis-solt-store.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { clientKey } from '../stores/helpers.js';
import { addUser, soltSetup } from '../stores/solt-setup.js';

const USERS = 20_000;

let keysDir: TempDir;
let k1: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('solt-unknown-keys-');
  k1 = await generateKey(keysDir.path, 'ed25519', 'k1');
});
after(() => keysDir.cleanup());

async function addManyUsers(admin: Redis, n: number): Promise<void> {
  for (let start = 0; start < n; start += 2000) {
    const pipe = admin.pipeline();
    for (let i = start; i < Math.min(n, start + 2000); i++) {
      pipe.sadd('solt.sftp.users', String(i));
      pipe.hset(soltUserKey(String(i)), { name: `user${i}`, folder: `user${i}`, active: 'True' });
      pipe.sadd(soltKeysKey(String(i)), k1.blobBase64);
    }
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }
}

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats. */
async function commandCalls(admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

/** What the store asked Redis for reading users: whole-user reads and id-set reads. */
async function reads(admin: Redis): Promise<{ users: number; idSets: number }> {
  const c = await commandCalls(admin);
  // The store reads a user with one EVALSHA (older code: HGETALL + SMEMBERS of the keys); commands
  // run inside a script are counted too, so this is only exact while no user is read.
  return { users: (c['evalsha'] ?? 0) + (c['hgetall'] ?? 0), idSets: (c['smembers'] ?? 0) - (c['hgetall'] ?? 0) };
}

const unknownName = (): string => `nobody-${randomBytes(6).toString('hex')}`;

describe('unknown login names and a large solt user set', () => {
  test('a burst of unknown names reads the ids once and no user; a user added without a message is found', async (t) => {
    const s = await soltSetup(t);
    await addManyUsers(s.admin, USERS);
    const store = s.make();
    await store.start();
    assert.equal(s.cap.find('users loaded', { reason: 'start', users: USERS }).length, 1);
    await s.admin.config('RESETSTAT');

    const names = Array.from({ length: 200 }, unknownName);
    const burst = await Promise.all(names.map((n) => store.authorize(n, clientKey(k1))));
    assert.ok(burst.every((d) => !d.ok && d.reason === 'unknown user'), JSON.stringify(burst.find((d) => d.ok)));
    assert.deepEqual(await reads(s.admin), { users: 0, idSets: 1 }, 'one re-read of the ids for the whole burst');
    assert.equal(s.cap.find('users loaded').length, 1, 'no full reload');

    // Added without announcement: found at the first login, by reading that one user.
    await addUser(s.admin, 'late', { name: 'late', folder: 'late', active: 'True' }, [k1.blobBase64]);
    const late = await store.authorize('late', clientKey(k1));
    assert.ok(late.ok, JSON.stringify(late));
    assert.equal(s.cap.find('user ids re-read for an unknown name', { ids: USERS + 1, fetched: 1 }).length, 1, 'one user fetched');
    assert.equal(s.cap.find('users loaded').length, 1, 'still no full reload');
  });

  test('the same unknown names again cost no re-read; impossible names none at all', async (t) => {
    const s = await soltSetup(t);
    await addManyUsers(s.admin, 2000);
    // No global limit: only the per-name one can hold the re-reads back.
    const store = s.make({ unknownUserRereadMs: 0 });
    await store.start();
    const names = Array.from({ length: 20 }, unknownName);
    for (const n of names) assert.deepEqual(await store.authorize(n, clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    await s.admin.config('RESETSTAT');
    for (let round = 0; round < 5; round++) {
      await Promise.all(names.map((n) => store.authorize(n, clientKey(k1))));
    }
    assert.deepEqual(await reads(s.admin), { users: 0, idSets: 0 }, 'each name re-read once per 30 s');

    // A 33 KB name, or one with control characters, cannot be a user's: refused without a look.
    for (const n of ['x'.repeat(33_000), 'a\nb', 'a\u0000b']) {
      const d = await store.authorize(n, clientKey(k1));
      assert.ok(!d.ok && d.reason.startsWith('unknown user: the name'), JSON.stringify(d).slice(0, 200));
    }
    assert.deepEqual(await reads(s.admin), { users: 0, idSets: 0 });
  });
});
