/**
 * Issue #11: two solt users must never share a folder, however they were added: back to back
 * without a folder (names that clean to the same folder name), through two server processes at
 * once, or with the same `folder` written into two hashes by hand. Real redis-server throughout.
 */
import assert from 'node:assert/strict';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { soltUserKey, type RedisSoltStore } from '../../src/auth/redis-solt-store.js';
import { StoreUnavailableError } from '../../src/auth/user-store.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { clientKey, folderOf, refusedWith, waitFor } from '../stores/helpers.js';
import { addUser, soltSetup } from '../stores/solt-setup.js';

const PAIRS = 8;
/** The claim registry (README, solt table): folder name -> id of the user who owns it. */
const SOLT_FOLDERS_KEY = 'solt.sftp.folders';

let keysDir: TempDir;
let k1: GeneratedKey, k2: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('solt-folders-keys-');
  [k1, k2] = await Promise.all([generateKey(keysDir.path, 'ed25519', 'k1'), generateKey(keysDir.path, 'ed25519', 'k2')]);
});
after(() => keysDir.cleanup());

/** As examples/add-solt-user.mjs does it: no folder, one transaction ending with the announcement. */
async function addAndAnnounce(admin: Redis, id: string, name: string, key: GeneratedKey): Promise<void> {
  const res = await admin.multi()
    .sadd('solt.sftp.users', id)
    .hset(soltUserKey(id), { name, active: 'True' })
    .sadd(soltUserKey(id) + '.keys', key.blobBase64)
    .publish('sftp_users', id)
    .exec();
  for (const [err] of res ?? []) if (err) throw err;
}

/** Pair i: two names that both clean to the folder name `ann<i>_x.com`. */
const pair = (i: number): [{ id: string; name: string }, { id: string; name: string }] =>
  [{ id: `a${i}`, name: `ann${i}@x.com` }, { id: `b${i}`, name: `ann${i}_x.com` }];

async function assertDistinctFolders(admin: Redis, stores: RedisSoltStore[]): Promise<void> {
  const owner = new Map<string, string>();
  const shared: string[] = [];
  for (let i = 0; i < PAIRS; i++) {
    for (const u of pair(i)) {
      const f = (await waitFor(`folder of ${u.id} written back`, () => admin.hget(soltUserKey(u.id), 'folder')))!;
      if (owner.has(f)) shared.push(`${f} (${owner.get(f)} and ${u.id})`);
      owner.set(f, u.id);
    }
  }
  assert.deepEqual(shared, [], 'folders given to two users');
  for (const [f, id] of owner) assert.equal(await admin.hget(SOLT_FOLDERS_KEY, f), id, `the registry names ${id} as the owner of ${f}`);
  // Every store serves each user the folder Redis holds.
  for (const store of stores) {
    for (let i = 0; i < PAIRS; i++) {
      const [a, b] = pair(i);
      const [da, db] = await Promise.all([store.authorize(a.name, clientKey(k1)), store.authorize(b.name, clientKey(k2))]);
      assert.ok(da.ok && db.ok, JSON.stringify([da, db]));
      assert.equal(owner.get(folderOf(da.user)!.split('/').pop()!), a.id);
      assert.equal(owner.get(folderOf(db.user)!.split('/').pop()!), b.id);
    }
  }
}

describe('solt folders are never shared', () => {
  test('colliding names added back to back get different folders', async (t) => {
    const s = await soltSetup(t);
    const store = s.make();
    await store.start();
    for (let i = 0; i < PAIRS; i++) {
      const [a, b] = pair(i);
      await Promise.all([addAndAnnounce(s.admin, a.id, a.name, k1), addAndAnnounce(s.admin, b.id, b.name, k2)]);
    }
    await assertDistinctFolders(s.admin, [store]);
  });

  test('two server processes sharing Redis give colliding names different folders', async (t) => {
    const s = await soltSetup(t);
    const one = s.makeSeparate();
    const two = s.makeSeparate();
    await Promise.all([one.start(), two.start()]);
    for (let i = 0; i < PAIRS; i++) {
      const [a, b] = pair(i);
      // Both processes hear both announcements and race to give folders; logins race too.
      await Promise.all([addAndAnnounce(s.admin, a.id, a.name, k1), addAndAnnounce(s.admin, b.id, b.name, k2)]);
      void one.authorize(b.name, clientKey(k2)).catch(() => undefined);
      void two.authorize(a.name, clientKey(k1)).catch(() => undefined);
    }
    await assertDistinctFolders(s.admin, [one, two]);
  });

  test('the same folder written into two hashes by hand: the first claimer keeps it, the other is refused', async (t) => {
    const s = await soltSetup(t);
    // Users from before the registry existed: nothing in solt.sftp.folders yet.
    await addUser(s.admin, '1', { name: 'ann', folder: 'shared', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, '2', { name: 'bob', folder: 'shared', active: 'True' }, [k2.blobBase64]);
    await addUser(s.admin, '3', { name: 'cy', folder: 'cy', active: 'True' }, [k1.blobBase64]);
    await s.admin.hset(SOLT_FOLDERS_KEY, 'cy', '9'); // an admin registered cy's folder for user 9
    const store = s.make();
    const other = s.makeSeparate();
    await Promise.all([store.start(), other.start()]);
    const root = await realpath(s.sftpPath);

    const ann = await store.authorize('ann', clientKey(k1));
    assert.deepEqual(ann, { ok: true, user: { name: 'ann', target: { kind: 'folder', path: join(root, 'shared') }, policy: { permissions: undefined } } });

    for (const st of [store, other]) {
      const bob = await st.authorize('bob', clientKey(k2));
      assert.ok(!bob.ok && bob.reason.includes(soltUserKey('1')) && bob.reason.includes(soltUserKey('2')), JSON.stringify(bob));
      const cy = await st.authorize('cy', clientKey(k1));
      assert.ok(!cy.ok && cy.reason.includes(soltUserKey('3')) && cy.reason.includes(soltUserKey('9')), JSON.stringify(cy));
    }
    assert.equal(await s.admin.hget(SOLT_FOLDERS_KEY, 'shared'), '1', 'a folder in use before the registry is registered at first use');
    const lines = s.cap.find('user folder belongs to another user: logins refused', { key: soltUserKey('2') });
    assert.equal(lines.length, 2, 'logged once by each process');
    assert.equal(lines[0]!.owner, soltUserKey('1'));
    assert.equal(lines[0]!.folder, 'shared');
    assert.equal(await s.admin.hget(soltUserKey('2'), 'folder'), 'shared', 'the refused user\'s hash is left as the admin wrote it');
    assert.ok((await other.authorize('ann', clientKey(k1))).ok, 'the owner logs in through the other process too');

    // The admin fixes it: bob gets a folder of his own and is let in.
    await s.admin.hset(soltUserKey('2'), 'folder', 'bob');
    await s.admin.publish('sftp_users', '2');
    await waitFor('bob let in with his own folder', async () => {
      const d = await store.authorize('bob', clientKey(k2));
      return d.ok && folderOf(d.user) === join(root, 'bob');
    });
  });

  test('a registry of the wrong type refuses logins with a log line naming it, and nothing crashes', async (t) => {
    const s = await soltSetup(t);
    await addUser(s.admin, '1', { name: 'ann', folder: 'ann', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, '2', { name: 'bob', active: 'True' }, [k2.blobBase64]);
    await s.admin.set(SOLT_FOLDERS_KEY, 'not a hash');
    const store = s.make();
    await store.start();
    for (const [name, key] of [['ann', k1], ['bob', k2], ['ann', k1]] as const) {
      const d = await store.authorize(name, clientKey(key));
      assert.ok(!d.ok && d.reason.includes(SOLT_FOLDERS_KEY) && /WRONGTYPE/.test(d.reason), JSON.stringify(d));
    }
    const lines = s.cap.find('cannot claim user folder: bad data in redis; logins refused', { key: SOLT_FOLDERS_KEY });
    assert.equal(lines.length, 2, 'once per user');
    assert.equal(await s.admin.hget(soltUserKey('2'), 'folder'), null, 'no folder written without a claim');

    await s.admin.del(SOLT_FOLDERS_KEY);
    assert.ok((await store.authorize('ann', clientKey(k1))).ok, 'served once the registry is usable');
    assert.ok((await store.authorize('bob', clientKey(k2))).ok);
  });

  test('while Redis is down, no folder is handed out that is not claimed', async (t) => {
    const s = await soltSetup(t);
    await addUser(s.admin, '1', { name: 'ann', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, '2', { name: 'bob', folder: 'bob', active: 'True' }, [k2.blobBase64]);
    await addUser(s.admin, '3', { name: 'cy', folder: 'bob', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, '4', { name: 'dee', folder: 'dee', active: 'True' }, [k2.blobBase64]);
    await addUser(s.admin, '5', { name: 'eve', folder: 'old-files', active: 'True' }, [k1.blobBase64]);
    await s.admin.hset(SOLT_FOLDERS_KEY, 'old-files', '99'); // a deleted user's folder
    const store = s.make({ retryMs: 3_600_000 });
    await store.start();
    assert.ok(refusedWith(soltUserKey('99'))(await store.authorize('eve', clientKey(k1))), 'refused while Redis answers');
    await s.redis.stop();
    await waitFor('outage noticed', () => s.cap.find('redis unavailable: serving the last known users').length > 0);

    await assert.rejects(store.authorize('ann', clientKey(k1)), StoreUnavailableError, 'no folder yet: none can be claimed now');
    const bob = await store.authorize('bob', clientKey(k2));
    assert.ok(!bob.ok && refusedWith(soltUserKey('3'))(bob), `bob's folder is also cy's: ${JSON.stringify(bob)}`);
    const eve = await store.authorize('eve', clientKey(k1));
    assert.ok(!eve.ok && eve.reason.includes(SOLT_FOLDERS_KEY), `what the registry said still holds: ${JSON.stringify(eve)}`);
    const dee = await store.authorize('dee', clientKey(k2));
    assert.ok(dee.ok && folderOf(dee.user)?.endsWith('/dee'), `a folder no other known user has is still served: ${JSON.stringify(dee)}`);
  });
});
