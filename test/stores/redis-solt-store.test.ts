/**
 * RedisSoltStore against a real redis-server: the solt_sftp schema, pub/sub live changes, folder
 * creation and write-back, hostile data, outages and the reconnect reload.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, realpath, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SOLT_USERS_KEY, soltKeysKey, soltUserKey } from '../../src/auth/redis-solt-store.js';
import { StoreUnavailableError } from '../../src/auth/user-store.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { accepted, clientKey, folderOf, refusedWith, waitFor, waitForDecision } from './helpers.js';
import { addUser, isDir, soltSetup as setup } from './solt-setup.js';

const HOUR = 3_600_000;

let keysDir: TempDir;
let k1: GeneratedKey, k2: GeneratedKey, k3: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('solt-keys-');
  [k1, k2, k3] = await Promise.all([
    generateKey(keysDir.path, 'ed25519', 'k1'),
    generateKey(keysDir.path, 'ed25519', 'k2'),
    generateKey(keysDir.path, 'ecdsa', 'k3'),
  ]);
});
after(() => keysDir.cleanup());

describe('redis-solt store', () => {
  test('loads every user at start; name, active flag and keys decide', async (t) => {
    const s = await setup(t);
    await addUser(s.admin, '1', { name: 'alice', folder: 'alice', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, '2', { name: 'bob', folder: 'bob', active: 'False' }, [k2.blobBase64]);
    await addUser(s.admin, '3', { name: 'carol', folder: 'carol-files', active: '1' }, [k2.blobBase64, k3.publicLine]);
    await addUser(s.admin, '4', { name: 'dan', folder: 'dan', active: 'true' }, [k1.blobBase64]);
    await addUser(s.admin, '5', { name: 'erin', folder: 'erin' }, [k1.blobBase64]);
    const store = s.make();
    await store.start();
    assert.ok(await isDir(s.sftpPath), 'start() creates sftp_path');
    const root = await realpath(s.sftpPath);

    const alice = await store.authorize('alice', clientKey(k1));
    assert.deepEqual(alice, { ok: true, user: { name: 'alice', target: { kind: 'folder', path: join(root, 'alice') }, policy: { permissions: undefined } } });
    const mode = (await stat(join(root, 'alice'))).mode & 0o777;
    assert.equal(mode, 0o755 & ~process.umask());
    assert.deepEqual(await store.authorize('alice', clientKey(k2)), { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' });
    assert.deepEqual(await store.authorize('bob', clientKey(k2)), { ok: false, code: 'inactive', reason: 'user inactive' });
    assert.deepEqual(await store.authorize('erin', clientKey(k1)), { ok: false, code: 'inactive', reason: 'user inactive' }, 'missing active = inactive');
    assert.ok((await store.authorize('carol', clientKey(k2))).ok);
    const carol = await store.authorize('carol', clientKey(k3));
    assert.ok(carol.ok && folderOf(carol.user) === join(root, 'carol-files'), 'a full .pub line in the key set works');
    assert.ok((await store.authorize('dan', clientKey(k1))).ok);
    assert.deepEqual(await store.authorize('nobody', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.deepEqual(await store.authorize('ALICE', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' }, 'names match exactly');
    assert.equal(s.cap.find('users loaded', { reason: 'start', users: 5 }).length, 1);
    assert.equal(await s.admin.hget(soltUserKey('1'), 'folder'), 'alice', 'an existing folder is not rewritten');
  });

  test('live add, folder change, key change, deactivation and deletion through pub/sub', async (t) => {
    const s = await setup(t);
    await addUser(s.admin, '1', { name: 'alice', folder: 'alice', active: 'True' }, [k1.blobBase64]);
    const store = s.make({ unknownUserRereadMs: HOUR });
    await store.start();
    // Spend the one re-read for unknown names, so every change below can only arrive by pub/sub.
    assert.deepEqual(await store.authorize('nobody', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    const root = await realpath(s.sftpPath);

    await addUser(s.admin, '2', { name: 'zoe', folder: 'zoe', active: 'True' }, [k2.blobBase64]);
    assert.deepEqual(await store.authorize('zoe', clientKey(k2)), { ok: false, code: 'unknown-user', reason: 'unknown user' }, 'not published yet');
    await s.admin.publish('sftp_users', '2');
    const zoe = await waitForDecision(store, 'zoe', k2, 'zoe added', accepted);
    assert.deepEqual(zoe, { ok: true, user: { name: 'zoe', target: { kind: 'folder', path: join(root, 'zoe') }, policy: { permissions: undefined } } });

    await s.admin.hset(soltUserKey('1'), 'folder', 'alice2');
    await s.admin.publish('sftp_users', '1');
    await waitForDecision(store, 'alice', k1, 'folder change', (d) => d.ok && folderOf(d.user) === join(root, 'alice2'));
    assert.ok(await isDir(join(root, 'alice2')));

    await s.admin.sadd(soltKeysKey('1'), k3.blobBase64);
    await s.admin.srem(soltKeysKey('1'), k1.blobBase64);
    await s.admin.publish('sftp_users', '1');
    await waitForDecision(store, 'alice', k1, 'key removal', refusedWith('public key not registered'));
    assert.ok((await store.authorize('alice', clientKey(k3))).ok, 'the added key works');

    await s.admin.hset(soltUserKey('1'), 'active', 'False');
    await s.admin.publish('sftp_users', '1');
    await waitForDecision(store, 'alice', k3, 'deactivation', refusedWith('user inactive'));

    await s.admin.multi().del(soltUserKey('2'), soltKeysKey('2')).srem(SOLT_USERS_KEY, '2').exec();
    await s.admin.publish('sftp_users', '2');
    await waitForDecision(store, 'zoe', k2, 'deletion', refusedWith('unknown user'));
    assert.equal(s.cap.find('user removed', { id: '2', user: 'zoe' }).length, 1);
    assert.ok(s.cap.find('user updated', { id: '1' }).length >= 3);
  });

  test('missing folders are created under sftp_path and written back to the hash', async (t) => {
    const s = await setup(t);
    await addUser(s.admin, '1', { name: 'eve', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, '2', { name: 'Frank Smith/../x', active: 'True' }, [k2.blobBase64]);
    await addUser(s.admin, '3', { name: 'gus', folder: 'gus-files', active: 'True' }, [k3.blobBase64]);
    await addUser(s.admin, '4', { name: 'other', folder: 'eve', active: 'True' }, [k3.blobBase64]);
    const store = s.make();
    await store.start();
    const root = await realpath(s.sftpPath);

    // "eve" is taken by user 4, so user 1 gets a unique name.
    const eve = await store.authorize('eve', clientKey(k1));
    assert.deepEqual(eve, { ok: true, user: { name: 'eve', target: { kind: 'folder', path: join(root, 'eve-1') }, policy: { permissions: undefined } } });
    assert.equal(await s.admin.hget(soltUserKey('1'), 'folder'), 'eve-1');
    assert.ok(await isDir(join(root, 'eve-1')));
    assert.equal(s.cap.find('user folder assigned (written back to redis)', { key: soltUserKey('1') }).length, 1);

    const frank = await store.authorize('Frank Smith/../x', clientKey(k2));
    assert.ok(frank.ok);
    const stored = await s.admin.hget(soltUserKey('2'), 'folder');
    assert.ok(stored && !/[/\\]|\.\./.test(stored), `sanitized folder name: ${stored}`);
    assert.equal(folderOf(frank.user), join(root, stored));
    assert.deepEqual((await readdir(s.tmp.path)).sort(), ['files'], 'nothing created beside sftp_path');

    const gus = await store.authorize('gus', clientKey(k3));
    assert.ok(gus.ok && folderOf(gus.user) === join(root, 'gus-files'));
    assert.ok(await isDir(join(root, 'gus-files')), 'a folder missing on disk is created at login');
    assert.equal(await s.admin.hget(soltUserKey('3'), 'folder'), 'gus-files');

    // A user announced by pub/sub gets a folder right away, without logging in.
    await addUser(s.admin, '5', { name: 'hal', active: 'True' }, [k1.blobBase64]);
    await s.admin.publish('sftp_users', '5');
    await waitFor('hal folder written back', async () => (await s.admin.hget(soltUserKey('5'), 'folder')) === 'hal');
    await waitFor('hal folder created', () => isDir(join(root, 'hal')));
  });

  test('hostile data is refused with a log line naming the Redis key, and never crashes the store', async (t) => {
    const s = await setup(t);
    await mkdir(s.sftpPath);
    const evil = join(s.tmp.path, 'files-evil');
    await mkdir(evil);
    await symlink(evil, join(s.sftpPath, 'link'));
    const bad: Record<string, string> = {
      abs: '/etc', dotdot: '../x', slash: 'a/b', sibling: '../files-evil', back: 'a\\b', dot: '.', empty: '',
      nul: 'x\0y', long: 'x'.repeat(300), ctrl: 'a\nb',
    };
    for (const [id, folder] of Object.entries(bad)) await addUser(s.admin, id, { name: id, folder, active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, 'link', { name: 'link', folder: 'link', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, 'junk', { name: 'junk', folder: 'junk', active: 'True' },
      [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), 'not base64!', `ssh-rsa ${k1.blobBase64}`, 'AAAA', k1.blobBase64]);
    await addUser(s.admin, 'noname', { folder: 'noname', active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, 'binname', { name: '\xff\xfe', active: 'True' }, [k1.blobBase64]);
    await s.admin.hset(soltUserKey('binname'), 'name', Buffer.from([0xff, 0xfe, 0x41]));
    await s.admin.multi().sadd(SOLT_USERS_KEY, 'wrongtype').set(soltUserKey('wrongtype'), 'x').exec();
    await addUser(s.admin, 'kt', { name: 'kt', folder: 'kt', active: 'True' }, []);
    await s.admin.set(soltKeysKey('kt'), 'x');
    await s.admin.sadd(SOLT_USERS_KEY, Buffer.from([0xff, 0xfe]), 'y'.repeat(500));
    await addUser(s.admin, 'good', { name: 'good', folder: 'good', active: 'True' }, [k1.blobBase64]);

    const store = s.make();
    await store.start();
    const warnings = (): number => s.cap.lines.filter((l) => l.level >= 40).length;

    for (const id of Object.keys(bad)) {
      const d = await store.authorize(id, clientKey(k1));
      assert.ok(!d.ok && d.reason.includes(soltUserKey(id)), `${id}: ${JSON.stringify(d)}`);
      assert.equal(s.cap.find('bad user data in redis', { key: soltUserKey(id) }).length, 1, `log line for ${id}`);
    }
    const link = await store.authorize('link', clientKey(k1));
    assert.ok(!link.ok && /outside/.test(link.reason) && link.reason.includes(soltUserKey('link')), JSON.stringify(link));
    assert.equal(s.cap.find('user folder unusable: logins refused', { key: soltUserKey('link') }).length, 1);
    assert.deepEqual(await readdir(evil), [], 'nothing written through the symlink');

    const junk = await store.authorize('junk', clientKey(k1));
    assert.ok(junk.ok, 'the one good key still works');
    assert.equal(s.cap.find('bad user data in redis', { key: soltKeysKey('junk') }).length, 4, 'one line per bad key');

    assert.equal(s.cap.find('bad user data in redis: user ignored', { key: soltUserKey('noname') }).length, 1);
    assert.equal(s.cap.find('bad user data in redis: user ignored', { key: soltUserKey('binname') }).length, 1);
    const wrongtype = s.cap.find('bad user data in redis: user ignored', { key: soltUserKey('wrongtype') });
    assert.ok(wrongtype.length === 1 && /WRONGTYPE/.test(String(wrongtype[0]!.problem)));
    assert.equal(s.cap.find('bad user data in redis', { key: soltKeysKey('kt') }).length, 1);
    assert.deepEqual(await store.authorize('kt', clientKey(k1)), { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' });
    assert.equal(s.cap.find('bad user id in redis: ignored', { key: SOLT_USERS_KEY }).length, 2);

    const good = await store.authorize('good', clientKey(k1));
    assert.ok(good.ok && folderOf(good.user) === join(await realpath(s.sftpPath), 'good'));

    // A re-read for an unknown name does not fetch the bad users again, nor log them again.
    const before = warnings();
    assert.deepEqual(await store.authorize('nobody', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.equal(s.cap.find('user ids re-read for an unknown name', { fetched: 0 }).length, 1);
    assert.equal(warnings(), before);

    await s.admin.publish('sftp_users', 'z'.repeat(1000));
    await waitFor('junk message logged', () => s.cap.find('ignored user-change message: not a user id').length === 1);
    assert.ok((await store.authorize('good', clientKey(k1))).ok, 'still serving');
  });

  test('redis outage: logins answered from memory; after the restart everything is read again', async (t) => {
    const s = await setup(t);
    await addUser(s.admin, '1', { name: 'alice', folder: 'alice', active: 'True' }, [k1.blobBase64]);
    // No retry timer: after the restart, only the reconnect reload can bring the change in.
    const store = s.make({ unknownUserRereadMs: 0, retryMs: HOUR });
    await store.start();

    // Change the data without publishing and snapshot it: the restarted server comes up with it.
    await s.admin.multi().del(soltKeysKey('1')).sadd(soltKeysKey('1'), k2.blobBase64).exec();
    assert.equal(await s.admin.save(), 'OK');
    assert.ok((await store.authorize('alice', clientKey(k1))).ok, 'unpublished change not seen yet');

    await s.redis.stop();
    await waitFor('outage noticed', () => s.cap.find('redis unavailable: serving the last known users').length > 0);
    // An unknown name makes the store try a full re-read, which fails: the known users must stay.
    assert.deepEqual(await store.authorize('nobody', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.equal(s.cap.find('reading user ids from redis failed: keeping the last known users, retrying').length, 1);
    const during = await store.authorize('alice', clientKey(k1));
    assert.ok(during.ok && folderOf(during.user)?.endsWith('/alice'), 'last known state serves logins during the outage');

    await s.redis.start();
    await waitForDecision(store, 'alice', k2, 'reload after reconnect', accepted);
    assert.deepEqual(await store.authorize('alice', clientKey(k1)), { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' });
    assert.ok(s.cap.find('users loaded', { reason: 'redis reconnected' }).length >= 1);

    // The subscription came back too.
    await s.admin.hset(soltUserKey('1'), 'active', 'False');
    await s.admin.publish('sftp_users', '1');
    await waitForDecision(store, 'alice', k2, 'pub/sub after reconnect', refusedWith('user inactive'));
  });

  test('a login by an unknown name reads the new ids once (concurrent logins share it, then rate-limited)', async (t) => {
    const s = await setup(t);
    await addUser(s.admin, '1', { name: 'alice', folder: 'alice', active: 'True' }, [k1.blobBase64]);
    const store = s.make({ unknownUserRereadMs: HOUR });
    await store.start();

    await addUser(s.admin, '2', { name: 'zed', folder: 'zed', active: 'True' }, [k2.blobBase64]); // no publish
    const decisions = await Promise.all([1, 2, 3, 4, 5].map(() => store.authorize('zed', clientKey(k2))));
    assert.ok(decisions.every((d) => d.ok), JSON.stringify(decisions));
    assert.equal(s.cap.find('user ids re-read for an unknown name', { ids: 2, fetched: 1 }).length, 1, 'only the new id is fetched');

    await addUser(s.admin, '3', { name: 'yan', folder: 'yan', active: 'True' }, [k3.blobBase64]);
    assert.deepEqual(await store.authorize('yan', clientKey(k3)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.equal(s.cap.find('user ids re-read for an unknown name').length, 1, 'rate-limited');
    assert.equal(s.cap.find('users loaded').length, 1, 'no full reload but the one at start');
  });

  test('start() with redis down does not throw; logins are refused until the first load, then served', async (t) => {
    const s = await setup(t, { redisDown: true });
    const store = s.make({ startWaitMs: 300, retryMs: 200 });
    await store.start();
    assert.equal(s.cap.find('users not loaded: redis unavailable; logins are refused until it is back').length, 1);
    await assert.rejects(store.authorize('alice', clientKey(k1)), StoreUnavailableError);

    await s.redis.start();
    await addUser(s.admin, '1', { name: 'alice', folder: 'alice', active: 'True' }, [k1.blobBase64]);
    await waitFor('users loaded after redis came up', async () => {
      try {
        return (await store.authorize('alice', clientKey(k1))).ok;
      } catch (err) {
        if (err instanceof StoreUnavailableError) return false;
        throw err;
      }
    });
    await s.admin.hset(soltUserKey('1'), 'active', '0');
    await s.admin.publish('sftp_users', '1');
    await waitForDecision(store, 'alice', k1, 'subscribed once redis came up', refusedWith('user inactive'));
  });
});
