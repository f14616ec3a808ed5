/**
 * The pysftpproxy schema's `active` field (written by `pysftpproxy users disable|enable`): absent
 * or true/1 lets the user in; anything else refuses their own key with code 'inactive'.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisPysftpproxyStore } from '../../src/auth/redis-pysftpproxy-store.js';
import { createRedis } from '../../src/redis/redis-connection.js';
import { generateKey, makeTempDir, startRedis, type GeneratedKey, type RedisHandle, type TempDir } from '../harness/index.js';
import { captureLog, clientKey } from './helpers.js';

let tmp: TempDir; let redis: RedisHandle; let conn: Redis; let admin: Redis;
let store: RedisPysftpproxyStore; let alice: GeneratedKey; let bob: GeneratedKey;

before(async () => {
  tmp = await makeTempDir('pysftpproxy-active-');
  [alice, bob] = await Promise.all([generateKey(tmp.path, 'ed25519', 'alice'), generateKey(tmp.path, 'ed25519', 'bob')]);
  redis = await startRedis();
  const cap = captureLog();
  conn = createRedis({ redisHost: '127.0.0.1', redisPort: redis.port, redisDb: 1 }, cap.log, 'refusing logins');
  await new Promise<void>((r) => (conn.status === 'ready' ? r() : conn.once('ready', () => r())));
  store = new RedisPysftpproxyStore(conn, { clientUser: 'root' }, cap.log);
  admin = redis.client(1);
  await admin.multi()
    .set(`pysftpproxy:pubkey:${alice.blobBase64}`, 'alice').hset('pysftpproxy:user:alice', { remote: '10.0.0.5' })
    .set(`pysftpproxy:pubkey:${bob.blobBase64}`, 'bob').hset('pysftpproxy:user:bob', { remote: '10.0.0.6' })
    .exec();
});
after(async () => { conn?.disconnect(); await redis?.close(); await tmp?.cleanup(); });

test('no active field, true (any case) or 1: the user logs in', async () => {
  assert.ok((await store.authorize('alice', clientKey(alice))).ok, 'absent');
  for (const v of ['true', 'TRUE', ' True ', '1']) {
    await admin.hset('pysftpproxy:user:alice', 'active', v);
    assert.ok((await store.authorize('alice', clientKey(alice))).ok, JSON.stringify(v));
  }
});

test('active false (or anything else) refuses with code inactive, naming the key and field', async () => {
  for (const v of ['false', '0', 'ture', '']) {
    await admin.hset('pysftpproxy:user:alice', 'active', v);
    const d = await store.authorize('alice', clientKey(alice));
    assert.ok(!d.ok && d.code === 'inactive', `${JSON.stringify(v)}: ${JSON.stringify(d)}`);
    assert.match(d.reason, /pysftpproxy:user:alice field "active"/);
  }
  // Someone else's key is still "belongs to another user", not "inactive".
  const other = await store.authorize('alice', clientKey(bob));
  assert.ok(!other.ok && other.code === 'wrong-key', JSON.stringify(other));
  assert.ok((await store.authorize('bob', clientKey(bob))).ok, 'another user is untouched');
  // A disabled user's broken route still says inactive: the state the admin chose comes first.
  await admin.hset('pysftpproxy:user:alice', { active: 'false', port: 'x' });
  const broken = await store.authorize('alice', clientKey(alice));
  assert.ok(!broken.ok && broken.code === 'inactive', JSON.stringify(broken));
  await admin.hdel('pysftpproxy:user:alice', 'active', 'port');
  assert.ok((await store.authorize('alice', clientKey(alice))).ok, 'enabled again by removing the field');
});

test('an oversized active field is refused by its size, unread', async () => {
  await admin.hset('pysftpproxy:user:alice', 'active', 'x'.repeat(5000));
  const d = await store.authorize('alice', clientKey(alice));
  assert.ok(!d.ok && d.code === 'bad-data' && /field "active" is 5000 bytes long/.test(d.reason), JSON.stringify(d));
  await admin.hdel('pysftpproxy:user:alice', 'active');
});
