/**
 * The pysftpproxy store reads Redis at every login, so whatever a login makes it read is paid
 * again at every attempt: a 33 KB login name or key blob must not become a Redis key, and a huge
 * value an admin left in Redis must not be read. Real redis-server; bytes and commands counted
 * with INFO.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisPysftpproxyStore } from '../../src/auth/redis-pysftpproxy-store.js';
import { createRedis } from '../../src/redis/redis-connection.js';
import { generateKey, makeTempDir, startRedis, type GeneratedKey, type TempDir } from '../harness/index.js';
import { captureLog, clientKey } from '../stores/helpers.js';

const MB = 1024 * 1024;

let keysDir: TempDir;
let k1: GeneratedKey, k2: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('pysftpproxy-bounds-keys-');
  [k1, k2] = await Promise.all([generateKey(keysDir.path, 'ed25519', 'k1'), generateKey(keysDir.path, 'ed25519', 'k2')]);
});
after(() => keysDir.cleanup());

async function setup(t: TestContext): Promise<{ admin: Redis; store: RedisPysftpproxyStore }> {
  const redis = await startRedis();
  const cap = captureLog();
  const conn = createRedis({ redisHost: '127.0.0.1', redisPort: redis.port, redisDb: 0 }, cap.log, 'refusing logins');
  t.after(async () => {
    conn.disconnect();
    await redis.close();
  });
  await new Promise<void>((r) => (conn.status === 'ready' ? r() : conn.once('ready', () => r())));
  return { admin: redis.client(0), store: new RedisPysftpproxyStore(conn, { clientUser: 'root' }, cap.log) };
}

async function stat(admin: Redis, section: string, re: RegExp): Promise<number> {
  const m = re.exec(await admin.info(section));
  return m ? Number(m[1]) : 0;
}
const bytesSent = (admin: Redis): Promise<number> => stat(admin, 'stats', /total_net_output_bytes:(\d+)/);

describe('pysftpproxy store: bounded per login', () => {
  test('a 33 KB login name or key blob is refused without reaching Redis', async (t) => {
    const { admin, store } = await setup(t);
    await admin.config('RESETSTAT');
    const longName = await store.authorize('n'.repeat(33_000), clientKey(k1));
    assert.ok(!longName.ok && /longer than 256/.test(longName.reason), JSON.stringify(longName).slice(0, 200));
    const ctrl = await store.authorize('a\r\nb', clientKey(k1));
    assert.ok(!ctrl.ok && /control characters/.test(ctrl.reason), JSON.stringify(ctrl));
    const bigKey = await store.authorize('alice', { algo: 'ssh-ed25519', data: Buffer.alloc(33_000, 1) });
    assert.ok(!bigKey.ok && /33000 bytes/.test(bigKey.reason), JSON.stringify(bigKey));
    const info = await admin.info('commandstats');
    assert.doesNotMatch(info, /cmdstat_(exec|multi|get|getrange|hgetall):/, 'no lookup was sent');
  });

  test('huge values left in Redis are refused by their size, never read', async (t) => {
    const { admin, store } = await setup(t);
    const huge = 'x'.repeat(16 * MB);
    await admin.set(`pysftpproxy:pubkey:${k2.blobBase64}`, huge);
    await admin.set(`pysftpproxy:pubkey:${k1.blobBase64}`, 'alice');
    await admin.hset('pysftpproxy:user:alice', { remote: '10.0.0.5', port: '22', user: 'alice', home: huge });

    let before = await bytesSent(admin);
    const other = await store.authorize('alice', clientKey(k2));
    const d = await store.authorize('alice', clientKey(k1));
    const sent = (await bytesSent(admin)) - before;
    assert.ok(sent < 64 * 1024, `${sent} bytes read for two logins`);
    assert.deepEqual(other, { ok: false, code: 'wrong-key', reason: 'public key belongs to another user' });
    assert.deepEqual(d, { ok: false, code: 'bad-data', reason: `bad route in pysftpproxy:user:alice: field "home" is ${16 * MB} bytes long` });

    // A huge field outside the schema is not read either; the route works.
    await admin.hset('pysftpproxy:user:alice', { home: '/data', notes: huge });
    before = await bytesSent(admin);
    const ok = await store.authorize('alice', clientKey(k1));
    assert.deepEqual(ok, { ok: true, user: { name: 'alice', target: { kind: 'upstream', route: { host: '10.0.0.5', port: 22, user: 'alice', home: '/data' } }, policy: { permissions: undefined } } });
    assert.ok((await bytesSent(admin)) - before < 64 * 1024);
  });
});
