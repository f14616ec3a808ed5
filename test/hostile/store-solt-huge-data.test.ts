/**
 * Solt data an admin got badly wrong must cost a log line, not a huge read at every reload: a
 * multi-megabyte field, an extra huge field, a keys set of 100,000 members, a 1 MB key, hundreds
 * of junk keys, a flood of announcements. Real redis-server; what Redis sent is read from INFO.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { SOLT_USERS_KEY, soltKeysKey, soltUserKey } from '../../src/auth/redis-solt-store.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { clientKey, waitFor } from '../stores/helpers.js';
import { addUser, soltSetup } from '../stores/solt-setup.js';

const MB = 1024 * 1024;

let keysDir: TempDir;
let k1: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('solt-huge-keys-');
  k1 = await generateKey(keysDir.path, 'ed25519', 'k1');
});
after(() => keysDir.cleanup());

async function bytesSent(admin: Redis): Promise<number> {
  const m = /total_net_output_bytes:(\d+)/.exec(await admin.info('stats'));
  return Number(m![1]);
}

describe('huge or excessive solt data', () => {
  test('oversized fields and key sets are refused by size, without reading them', async (t) => {
    const s = await soltSetup(t);
    const big = 'x'.repeat(8 * MB);
    await addUser(s.admin, 'bigname', { name: big, active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, 'bigfolder', { name: 'bigfolder', folder: big, active: 'True' }, [k1.blobBase64]);
    await addUser(s.admin, 'notes', { name: 'notes', folder: 'notes', active: 'True', notes: big }, [k1.blobBase64]);
    await addUser(s.admin, 'bigkey', { name: 'bigkey', folder: 'bigkey', active: 'True' }, ['A'.repeat(MB), k1.blobBase64]);
    await addUser(s.admin, 'many', { name: 'many', folder: 'many', active: 'True' }, [k1.blobBase64]);
    for (let i = 0; i < 100_000; i += 10_000) {
      await s.admin.sadd(soltKeysKey('many'), ...Array.from({ length: 10_000 }, (_, j) => `junk-key-${i + j}-${'y'.repeat(60)}`));
    }
    const junk = Array.from({ length: 100 }, (_, i) => `not a key ${i}`);
    await addUser(s.admin, 'junk', { name: 'junk', folder: 'junk', active: 'True' }, [...junk, k1.blobBase64]);

    const before = await bytesSent(s.admin);
    const store = s.make();
    await store.start();
    const sent = (await bytesSent(s.admin)) - before;
    assert.ok(sent < MB, `Redis sent ${sent} bytes to load 6 users`);

    const warned = (key: string): string[] => s.cap.lines.filter((l) => l.level >= 40 && l.key === key).map((l) => String(l.problem));
    assert.match(warned(soltUserKey('bigname')).join(), /field "name" is 8388608 bytes long/);
    assert.deepEqual(await store.authorize(big.slice(0, 256), clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.match(warned(soltUserKey('bigfolder')).join(), /field "folder" is 8388608 bytes long/);
    const bf = await store.authorize('bigfolder', clientKey(k1));
    assert.ok(!bf.ok && bf.reason.includes(soltUserKey('bigfolder')), JSON.stringify(bf));
    assert.ok((await store.authorize('notes', clientKey(k1))).ok, 'fields outside the schema are not read, whatever their size');
    assert.match(warned(soltKeysKey('bigkey')).join(), /too long \(1048576 bytes\)/);
    assert.ok((await store.authorize('bigkey', clientKey(k1))).ok, 'the good key still works');
    assert.deepEqual(warned(soltKeysKey('many')), ['100001 public keys, more than 256: no key accepted']);
    assert.deepEqual(await store.authorize('many', clientKey(k1)), { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' });
    const junkLines = warned(soltKeysKey('junk'));
    assert.equal(junkLines.length, 6, 'five bad keys shown, the rest counted');
    assert.equal(junkLines[5], '95 more bad public keys: ignored');
    assert.ok((await store.authorize('junk', clientKey(k1))).ok);
  });

  test('a flood of announcements while a load runs is folded into one full reload', async (t) => {
    const s = await soltSetup(t);
    await addUser(s.admin, '1', { name: 'ann', folder: 'ann', active: 'True' }, [k1.blobBase64]);
    const store = s.make();
    await store.start();
    const pipe = s.admin.pipeline();
    for (let i = 0; i < 20_000; i++) pipe.publish('sftp_users', `ghost-${i}-${'z'.repeat(180)}`);
    await pipe.exec();
    await waitFor('full reload instead of 20,000 single reads', () => s.cap.find('users loaded', { reason: 'many user changes' }).length > 0);
    assert.ok((await store.authorize('ann', clientKey(k1))).ok);
    assert.equal(await s.admin.scard(SOLT_USERS_KEY), 1);
  });
});
