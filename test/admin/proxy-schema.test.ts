/**
 * `pysftpproxy users|keys` against the Redis pysftpproxy schema (proxy mode): every command run as
 * a process against a real redis-server, the data checked in Redis, each change notice (the user
 * name on pysftpproxy:changes) seen by a real subscriber, and each refusal exiting 2 with Redis
 * unchanged and nothing published.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { generateKey, makeTempDir, type GeneratedKey, type RedisHandle, type TempDir, startRedis } from '../harness/index.js';
import { admin, Notices, ok, refusedUnchangedIn } from './helpers.js';

let tmp: TempDir; let redis: RedisHandle; let db: Redis; let notices: Notices;
let alice: GeneratedKey; let alice2: GeneratedKey; let bob: GeneratedKey; let dsa: GeneratedKey; let rsa: GeneratedKey;
let cli: ReturnType<typeof admin>;

const user = (name: string) => `pysftpproxy:user:${name}`;
const pubkey = (k: GeneratedKey) => `pysftpproxy:pubkey:${k.blobBase64}`;

before(async () => {
  tmp = await makeTempDir('admin-proxy-');
  [alice, alice2, bob, dsa, rsa] = await Promise.all([generateKey(tmp.path, 'ed25519', 'alice'), generateKey(tmp.path, 'ecdsa', 'alice2'),
    generateKey(tmp.path, 'ed25519', 'bob'), generateKey(tmp.path, 'dsa', 'dsa'), generateKey(tmp.path, 'rsa', 'rsa')]);
  redis = await startRedis();
  db = redis.client(1);
  notices = await Notices.subscribe(redis, 'pysftpproxy:changes');
  cli = admin(tmp.path, { SFTPPROXY_REDIS_PORT: String(redis.port) });
});
after(async () => { notices?.close(); await redis?.close(); await tmp?.cleanup(); });

/** Runs a command that must be refused: exit 2, the line matches, Redis unchanged. */
const refusedUnchanged = (pattern: RegExp, ...args: string[]): Promise<string> => refusedUnchangedIn(cli, db)(pattern, ...args);

describe('pysftpproxy schema', () => {
  test('users add writes the route and the key, and announces the name', async () => {
    ok(await cli('users', 'add', 'alice', '--key', alice.publicPath, '--remote', '10.0.0.5', '--port', '2222', '--upstream-user', 'data',
      '--home', '/srv/alice', '--permissions', 'read-only'), /^added user alice \(data@10\.0\.0\.5:2222 \/srv\/alice, 1 key\); announced "alice" on pysftpproxy:changes\n$/);
    assert.deepEqual(await db.hgetall(user('alice')), { remote: '10.0.0.5', port: '2222', user: 'data', home: '/srv/alice', permissions: 'read-only' });
    assert.equal(await db.get(pubkey(alice)), 'alice');
    await notices.next('alice');
    // The key given as the line itself, and a second --key.
    ok(await cli('users', 'add', 'bob', '--key', bob.publicLine, '--key', rsa.publicPath, '--remote', 'sftp-bob'));
    assert.deepEqual(await db.hgetall(user('bob')), { remote: 'sftp-bob' }, 'only the fields given: the server applies its defaults');
    assert.equal(await db.get(pubkey(bob)), 'bob');
    assert.equal(await db.get(pubkey(rsa)), 'bob');
    await notices.next('bob');
  });

  test('validation refusals: exit 2, one line, nothing written, nothing announced', async () => {
    const k = ['--key', alice2.publicPath];
    await refusedUnchanged(/user "alice" already exists \(pysftpproxy:user:alice\)/, 'users', 'add', 'alice', ...k, '--remote', 'h');
    await refusedUnchanged(/key SHA256:\S+ already belongs to user "alice"/, 'users', 'add', 'carol', '--key', alice.publicPath, '--remote', 'h');
    await refusedUnchanged(/field "port" "70000" is not a port number 1-65535/, 'users', 'add', 'carol', ...k, '--remote', 'h', '--port', '70000');
    await refusedUnchanged(/field "port" "0" is not a port number/, 'users', 'add', 'carol', ...k, '--remote', 'h', '--port', '0');
    await refusedUnchanged(/"lst" is an unknown permission; use list, download/, 'users', 'add', 'carol', ...k, '--remote', 'h', '--permissions', 'list,lst');
    await refusedUnchanged(/DSA \(ssh-dss\) keys are refused/, 'users', 'add', 'carol', '--key', dsa.publicPath, '--remote', 'h');
    await refusedUnchanged(/this is a private key; give its public half/, 'users', 'add', 'carol', '--key', alice2.privatePath, '--remote', 'h');
    const garbage = join(tmp.path, 'garbage.pub');
    await writeFile(garbage, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOrWjO0G0Z5mOqYy3R9d5t1zV0ScTRpv1a1+Q2cQ x\n');
    await refusedUnchanged(/garbage\.pub: the ssh-ed25519 key data is malformed/, 'users', 'add', 'carol', '--key', garbage, '--remote', 'h');
    await writeFile(garbage, 'hello\n');
    await refusedUnchanged(/garbage\.pub: not an OpenSSH public key line/, 'users', 'add', 'carol', '--key', garbage, '--remote', 'h');
    await refusedUnchanged(/--key "missing\.pub": no such file, and not an OpenSSH public key line/, 'users', 'add', 'carol', '--key', 'missing.pub', '--remote', 'h');
    await refusedUnchanged(/--key FILE\|LINE is required/, 'users', 'add', 'carol', '--remote', 'h');
    await refusedUnchanged(/--remote HOST is required/, 'users', 'add', 'carol', ...k);
    await refusedUnchanged(/field "remote" "bad host!" is not a host name/, 'users', 'add', 'carol', ...k, '--remote', 'bad host!');
    await refusedUnchanged(/holds proxy-mode users \(routes\): --folder does not apply/, 'users', 'add', 'carol', ...k, '--folder', 'c');
    await refusedUnchanged(/--id is for the solt schema/, 'users', 'add', 'carol', ...k, '--remote', 'h', '--id', '3');
    await refusedUnchanged(/user name "_x" starts with "_"/, 'users', 'add', '_x', ...k, '--remote', 'h');
    await refusedUnchanged(/no user "nobody" in redis 127\.0\.0\.1:\d+\/1 \(pysftpproxy schema\)/, 'users', 'set', 'nobody', 'port=22');
    await refusedUnchanged(/no user "nobody"/, 'users', 'remove', 'nobody');
    await refusedUnchanged(/no user "nobody"/, 'users', 'disable', 'nobody');
    await refusedUnchanged(/no user "nobody"/, 'keys', 'add', 'nobody', alice2.publicPath);
    await refusedUnchanged(/field "port" "99999" is not a port number/, 'users', 'set', 'alice', 'port=99999');
    await refusedUnchanged(/unknown field "prot": use one of remote, port/, 'users', 'set', 'alice', 'prot=22');
    await refusedUnchanged(/"key": public keys are changed with `pysftpproxy keys add\|remove`/, 'users', 'set', 'alice', 'key=/x');
    await refusedUnchanged(/folder: user "alice" is a proxy-mode user/, 'users', 'set', 'alice', 'folder=a');
    await refusedUnchanged(/field "remote" \(missing\)/, 'users', 'set', 'alice', 'remote=');
    await refusedUnchanged(/"nope" is an unknown permission/, 'users', 'set', 'alice', 'permissions=nope');
    await refusedUnchanged(/key SHA256:\S+ already belongs to user "bob"/, 'keys', 'add', 'alice', bob.publicPath);
    await refusedUnchanged(/DSA/, 'keys', 'add', 'alice', dsa.publicPath);
    await refusedUnchanged(/user "alice" has no key SHA256:/, 'keys', 'remove', 'alice', bob.fingerprint);
    await refusedUnchanged(/--folder is not an option of `users remove`/, 'users', 'remove', 'alice', '--folder', 'x');
    await refusedUnchanged(/unknown option --bogus/, 'users', 'list', '--bogus');
    await refusedUnchanged(/unknown subcommand/, 'users', 'frob');
    await refusedUnchanged(/usage: pysftpproxy keys add NAME FILE\|LINE/, 'keys', 'add', 'alice');
    // The next notice is this command's: none of the refusals published anything.
    ok(await cli('users', 'enable', 'alice'), /already enabled; nothing changed/);
    ok(await cli('keys', 'add', 'alice', alice2.publicPath));
    await notices.next('alice');
  });

  test('users set changes and removes fields; the result is validated with the server\'s defaults', async () => {
    ok(await cli('users', 'set', 'alice', 'port=22', 'home=', 'upstream-user=root', 'hostkey=SHA256:' + 'A'.repeat(43), 'permissions='),
      /^changed user alice: port=22, home removed, upstream-user=root, hostkey=SHA256:A+, permissions removed; announced "alice"/);
    assert.deepEqual(await db.hgetall(user('alice')), { remote: '10.0.0.5', port: '22', user: 'root', hostkey: 'SHA256:' + 'A'.repeat(43) });
    await notices.next('alice');
  });

  test('disable writes active=false, enable removes it; each announced', async () => {
    ok(await cli('users', 'disable', 'bob'), /^disabled user bob: logins refused from now on; announced "bob"/);
    assert.equal(await db.hget(user('bob'), 'active'), 'false');
    ok(await cli('users', 'disable', 'bob'), /already disabled; nothing changed/);
    ok(await cli('users', 'enable', 'bob'), /^enabled user bob; announced "bob"/);
    assert.equal(await db.hexists(user('bob'), 'active'), 0);
    await notices.next('bob', 'bob');
  });

  test('show, list (table and JSON) and keys list give fingerprints, never keys', async () => {
    await db.hset(user('bob'), 'active', 'false');
    const table = ok(await cli('users', 'list'));
    assert.deepEqual(table.trimEnd().split('\n').map((l) => l.split(/\s{2,}/)), [
      ['NAME', 'ACTIVE', 'KEYS', 'TARGET', 'PERMISSIONS'],
      ['alice', 'yes', '2', 'root@10.0.0.5:22', '*'],
      ['bob', 'no', '2', 'root@sftp-bob:22', '*'],
    ]);
    const json = JSON.parse(ok(await cli('users', 'list', '--json'))) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((u) => [u['name'], u['active']]), [['alice', true], ['bob', false]]);
    assert.deepEqual((json[0]!['keys'] as Array<{ fingerprint: string }>).map((k) => k.fingerprint).sort(), [alice.fingerprint, alice2.fingerprint].sort());
    const shown = ok(await cli('users', 'show', 'bob'));
    assert.match(shown, /^active {6}no \(disabled: logins refused\)$/m);
    assert.match(shown, /^stored in {3}pysftpproxy:user:bob$/m);
    assert.ok(shown.includes(`\nkey         ${rsa.fingerprint}  ssh-rsa\n`), shown);
    const keys = ok(await cli('keys', 'list', 'alice'));
    assert.deepEqual(keys.trimEnd().split('\n').map((l) => l.split('  ')[0]).sort(), [alice.fingerprint, alice2.fingerprint].sort());
    for (const out of [table, JSON.stringify(json), shown, keys]) {
      for (const k of [alice, alice2, bob, rsa]) assert.ok(!out.includes(k.blobBase64.slice(20, 60)), 'no whole key printed');
    }
    await db.hdel(user('bob'), 'active');
  });

  test('keys remove by fingerprint, file and line; users remove takes the keys along', async () => {
    ok(await cli('keys', 'remove', 'alice', alice2.fingerprint), new RegExp(`^removed key ${alice2.fingerprint.replace(/[+/]/g, '\\$&')} from user alice; announced "alice"`));
    assert.equal(await db.exists(pubkey(alice2)), 0);
    ok(await cli('keys', 'remove', 'bob', rsa.publicPath));
    ok(await cli('keys', 'remove', 'bob', bob.publicLine), /no key left: no login possible/);
    assert.equal(await db.exists(pubkey(bob)), 0);
    await notices.next('alice', 'bob', 'bob');
    ok(await cli('keys', 'add', 'bob', bob.publicPath));
    ok(await cli('users', 'remove', 'bob'), /^removed user bob \(1 key\); announced "bob"/);
    assert.deepEqual(await db.keys('*bob*'), []);
    assert.equal(await db.exists(pubkey(bob)), 0);
    await notices.next('bob', 'bob');
    // A key left behind by a route deleted by hand is not handed to the next user of that name.
    await db.set(pubkey(bob), 'eve');
    await refusedUnchanged(/key\(s\) in redis still name user "eve", who has no route/, 'users', 'add', 'eve', '--key', rsa.publicPath, '--remote', 'h');
    ok(await cli('users', 'remove', 'eve'));
    assert.equal(await db.exists(pubkey(bob)), 0);
  });

  test('a store that cannot be reached: exit 1 at once, one line, no password shown', async () => {
    const started = Date.now();
    const r = await cli('users', 'list', '--redis-url', 'redis://:s3cret@127.0.0.1:1/1');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^pysftpproxy: cannot use redis at 127\.0\.0\.1:1\/1: ECONNREFUSED\n$/);
    assert.doesNotMatch(r.stderr, /s3cret/);
    assert.ok(Date.now() - started < 5000, 'no retrying');
  });

  test('help: pysftpproxy --help names the commands; users --help lists subcommands and fields', async () => {
    assert.match(ok(await cli('--help')), /pysftpproxy users \.\.\.\n.*\n {2}pysftpproxy keys \.\.\./);
    const help = ok(await cli('users', '--help'));
    for (const s of ['add NAME --key FILE|LINE', 'set NAME FIELD=VALUE', 'remove NAME', 'show NAME', 'list [--json]', 'disable NAME', 'enable NAME', 'upstream-user']) {
      assert.ok(help.includes(s), s);
    }
    assert.match(ok(await cli('keys', 'remove', '--help')), /keys remove NAME FILE\|LINE\|SHA256:fingerprint/);
  });
});
