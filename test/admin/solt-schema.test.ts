/**
 * `pysftpproxy users|keys` against the Redis solt schema (local mode): ids, folders claimed in
 * solt.sftp.folders as the server claims them, the id announced on sftp_users; refusals exit 2
 * with Redis unchanged.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { generateKey, makeTempDir, startRedis, type GeneratedKey, type RedisHandle, type TempDir } from '../harness/index.js';
import { admin, Notices, ok, refusedUnchangedIn } from './helpers.js';

let tmp: TempDir; let redis: RedisHandle; let db: Redis; let notices: Notices; let cli: ReturnType<typeof admin>;
let dora: GeneratedKey; let eve: GeneratedKey; let old: GeneratedKey; let spare: GeneratedKey;

const hash = (id: string) => `solt.sftp.user.${id}`;
const keys = (id: string) => `solt.sftp.user.${id}.keys`;

before(async () => {
  tmp = await makeTempDir('admin-solt-');
  [dora, eve, old, spare] = await Promise.all(['dora', 'eve', 'old', 'spare'].map((n) => generateKey(tmp.path, 'ed25519', n)));
  redis = await startRedis();
  db = redis.client(1);
  notices = await Notices.subscribe(redis, 'sftp_users');
  cli = admin(tmp.path, { SFTPPROXY_REDIS_PORT: String(redis.port), SFTPPROXY_MODE: 'local' });
  // Users from before: ids 3 and 10 (one with its key stored as a whole .pub line), a folder claimed by 10.
  await db.multi().sadd('solt.sftp.users', '3', '10')
    .hset(hash('3'), { name: 'olduser', active: 'True', folder: 'oldfolder' }).sadd(keys('3'), old.publicLine)
    .hset(hash('10'), { name: 'ten', active: 'True', folder: 'tenfolder' }).sadd(keys('10'), spare.blobBase64)
    .hset('solt.sftp.folders', 'tenfolder', '10').exec();
});
after(async () => { notices?.close(); await redis?.close(); await tmp?.cleanup(); });

/** Runs a command that must be refused: exit 2, the line matches, Redis unchanged. */
const refusedUnchanged = (pattern: RegExp, ...args: string[]): Promise<string> => refusedUnchangedIn(cli, db)(pattern, ...args);

describe('solt schema', () => {
  test('users add takes the next free id, leaves the folder to the server, announces the id', async () => {
    ok(await cli('users', 'add', 'dora', '--key', dora.publicPath),
      /^added user dora \(id 11, folder assigned by the server when it reads the user, 1 key\); announced "11" on sftp_users\n$/);
    assert.deepEqual(await db.hgetall(hash('11')), { name: 'dora', active: 'True' });
    assert.deepEqual(await db.smembers(keys('11')), [dora.blobBase64]);
    assert.equal(await db.sismember('solt.sftp.users', '11'), 1);
    await notices.next('11');
  });

  test('users add --folder claims the folder in solt.sftp.folders; --id picks the id', async () => {
    ok(await cli('users', 'add', 'eve', '--id', '20', '--key', eve.publicPath, '--folder', 'eve-files', '--permissions', 'read-only'),
      /^added user eve \(id 20, folder eve-files, 1 key\); announced "20"/);
    assert.deepEqual(await db.hgetall(hash('20')), { name: 'eve', active: 'True', permissions: 'read-only', folder: 'eve-files' });
    assert.equal(await db.hget('solt.sftp.folders', 'eve-files'), '20');
    await notices.next('20');
  });

  test('refusals: exit 2, one line, Redis unchanged, nothing announced', async () => {
    const k = ['--key', dora.publicPath];
    const fresh = (await generateKey(tmp.path, 'ecdsa', 'fresh')).publicPath;
    await refusedUnchanged(/user "dora" already exists \(solt\.sftp\.user\.11\)/, 'users', 'add', 'dora', '--key', fresh);
    await refusedUnchanged(/key SHA256:\S+ already belongs to user "olduser"/, 'users', 'add', 'zed', '--key', old.publicPath);
    await refusedUnchanged(/user id 3 already exists/, 'users', 'add', 'zed', '--id', '3', '--key', fresh);
    await refusedUnchanged(/--id "a\\nb": a user id contains control characters/, 'users', 'add', 'zed', '--id', 'a\nb', '--key', fresh);
    await refusedUnchanged(/folder "tenfolder" is the folder of user "ten" \(solt\.sftp\.user\.10\)/, 'users', 'add', 'zed', '--key', fresh, '--folder', 'tenfolder');
    await db.hset('solt.sftp.folders', 'gone-users-folder', '99');
    await refusedUnchanged(/folder "gone-users-folder" is claimed by solt\.sftp\.user\.99 in solt\.sftp\.folders: two users never share a folder/,
      'users', 'add', 'zed', '--key', fresh, '--folder', 'gone-users-folder');
    await refusedUnchanged(/folder "\.\.\/x" contains "\.\."/, 'users', 'add', 'zed', '--key', fresh, '--folder', '../x');
    await refusedUnchanged(/holds local-mode users \(folders\): route options do not apply/, 'users', 'add', 'zed', ...k, '--remote', 'h');
    await refusedUnchanged(/folder "gone-users-folder" is claimed by solt\.sftp\.user\.99/, 'users', 'set', 'eve', 'folder=gone-users-folder');
    await refusedUnchanged(/folder "oldfolder" is the folder of user "olduser"/, 'users', 'set', 'eve', 'folder=oldfolder');
    await refusedUnchanged(/folder cannot be removed/, 'users', 'set', 'eve', 'folder=');
    await refusedUnchanged(/port: user "eve" is a local-mode user/, 'users', 'set', 'eve', 'port=22');
    await refusedUnchanged(/key SHA256:\S+ already belongs to user "eve"/, 'keys', 'add', 'dora', eve.publicPath);
    await refusedUnchanged(/solt\.sftp\.user\.3 is user "olduser", not "dora"/, 'users', 'show', 'dora', '--id', '3');
    await refusedUnchanged(/no user "nobody" in redis 127\.0\.0\.1:\d+\/1 \(solt schema\)/, 'users', 'remove', 'nobody');
    ok(await cli('keys', 'add', 'dora', dora.publicPath), /already has key .*; nothing changed/);
    ok(await cli('users', 'disable', 'dora'));
    await notices.next('11');
  });

  test('users set folder claims the new one; disable/enable write active False/True', async () => {
    ok(await cli('users', 'set', 'eve', 'folder=eve2', 'permissions='), /^changed user eve: folder=eve2, permissions removed; announced "20"/);
    assert.deepEqual(await db.hgetall(hash('20')), { name: 'eve', active: 'True', folder: 'eve2' });
    assert.equal(await db.hget('solt.sftp.folders', 'eve2'), '20');
    ok(await cli('users', 'enable', 'dora'));
    assert.equal(await db.hget(hash('11'), 'active'), 'True');
    ok(await cli('users', 'disable', 'dora'));
    assert.equal(await db.hget(hash('11'), 'active'), 'False');
    await notices.next('20', '11', '11');
    const table = ok(await cli('users', 'list'));
    assert.deepEqual(table.trimEnd().split('\n').map((l) => l.split(/\s{2,}/)), [
      ['ID', 'NAME', 'ACTIVE', 'KEYS', 'TARGET', 'PERMISSIONS'],
      ['11', 'dora', 'no', '1', '(folder assigned by the server)', '*'],
      ['20', 'eve', 'yes', '1', 'folder eve2', '*'],
      ['3', 'olduser', 'yes', '1', 'folder oldfolder', '*'],
      ['10', 'ten', 'yes', '1', 'folder tenfolder', '*'],
    ]);
  });

  test('keys: a key stored as a whole .pub line is removed by fingerprint; at most 256 keys', async () => {
    ok(await cli('keys', 'remove', 'olduser', old.fingerprint), /announced "3"/);
    assert.deepEqual(await db.smembers(keys('3')), []);
    const fakes = Array.from({ length: 256 }, () => {
      const b = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]);
      return b.toString('base64');
    });
    await db.sadd(keys('3'), ...fakes);
    await refusedUnchanged(/has 256 keys, the most the server reads: remove one first/, 'keys', 'add', 'olduser', old.publicPath);
    await db.del(keys('3'));
    ok(await cli('keys', 'add', 'olduser', old.publicPath));
    assert.deepEqual(await db.smembers(keys('3')), [old.blobBase64]);
    await notices.next('3', '3');
  });

  test('users remove deletes the user; the folder stays claimed, and the output says how to free it', async () => {
    ok(await cli('users', 'remove', 'eve'),
      /^removed user eve \(1 key\); announced "20" on sftp_users; folder "eve2" stays claimed by id 20 in solt\.sftp\.folders \(its files are kept\); `HDEL solt\.sftp\.folders eve2` frees it\n$/);
    assert.equal(await db.exists(hash('20'), keys('20')), 0);
    assert.equal(await db.sismember('solt.sftp.users', '20'), 0);
    assert.equal(await db.hget('solt.sftp.folders', 'eve2'), '20');
    await notices.next('20');
  });

  test('two hashes with one name (made by hand): refused as ambiguous, --id picks one', async () => {
    await db.multi().sadd('solt.sftp.users', '30', '31').hset(hash('30'), { name: 'twin', active: 'True' })
      .hset(hash('31'), { name: 'twin', active: 'True' }).exec();
    await refusedUnchanged(/2 solt users are named "twin" \(solt\.sftp\.user\.30, solt\.sftp\.user\.31\): pick one with --id/, 'users', 'disable', 'twin');
    ok(await cli('users', 'disable', 'twin', '--id', '31'));
    assert.deepEqual([await db.hget(hash('30'), 'active'), await db.hget(hash('31'), 'active')], ['True', 'False']);
    await notices.next('31');
  });

  test('concurrent adds never share an id', async () => {
    const ks = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((n) => generateKey(tmp.path, 'ed25519', n)));
    const results = await Promise.all(ks.map((k, i) => cli('users', 'add', `conc${i}`, '--key', k.publicPath)));
    const ids = results.map((r) => /\(id (\d+),/.exec(ok(r))![1]!);
    assert.equal(new Set(ids).size, 4, `distinct ids: ${ids.join(' ')}`);
    for (const [i, id] of ids.entries()) assert.equal(await db.hget(hash(id), 'name'), `conc${i}`);
  });
});
