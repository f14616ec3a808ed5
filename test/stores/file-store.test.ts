/**
 * FileStore: a JSON users file with folder (local) and route (proxy) entries, watched and
 * re-read live; a broken file keeps the previous users.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { createStore } from '../../src/auth/create-store.js';
import { FileStore, parseUsersFile, type FileStoreOptions } from '../../src/auth/file-store.js';
import { ConfigError } from '../../src/config/config-error.js';
import type { Config } from '../../src/config/options.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { accepted, captureLog, clientKey, folderOf, refusedWith, waitFor, waitForDecision, type CapturedLog } from './helpers.js';

const FINGERPRINT = 'SHA256:' + 'A'.repeat(43);

let keysDir: TempDir;
let k1: GeneratedKey, k2: GeneratedKey, k3: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('file-store-keys-');
  [k1, k2, k3] = await Promise.all([
    generateKey(keysDir.path, 'ed25519', 'k1'),
    generateKey(keysDir.path, 'ed25519', 'k2'),
    generateKey(keysDir.path, 'ecdsa', 'k3'),
  ]);
});
after(() => keysDir.cleanup());

interface Setup {
  dir: string;
  file: string;
  sftpPath: string;
  cap: CapturedLog;
  make(opts?: Partial<FileStoreOptions>): FileStore;
}

async function setup(t: TestContext, users: unknown): Promise<Setup> {
  const tmp = await makeTempDir('file-store-');
  const dir = join(tmp.path, 'etc');
  await mkdir(dir);
  const file = join(dir, 'users.json');
  if (users !== undefined) await writeFile(file, typeof users === 'string' ? users : JSON.stringify(users, null, 2));
  const cap = captureLog();
  const stores: FileStore[] = [];
  t.after(async () => {
    for (const s of stores) await s.close();
    await tmp.cleanup();
  });
  const sftpPath = join(tmp.path, 'files');
  return {
    dir, file, sftpPath, cap,
    make(o = {}) {
      const s = new FileStore(file, { sftpPath, routeDefaults: { clientUser: 'root', home: '/data' }, debounceMs: 50, pollMs: 600_000, ...o }, cap.log);
      stores.push(s);
      return s;
    },
  };
}

/** Editor-style save: write a temporary file, rename it over the target (no half-written state is ever seen). */
async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(file + '.tmp', text);
  await rename(file + '.tmp', file);
}

describe('file store', () => {
  test('a missing users file is a ConfigError naming --store and the path', async (t) => {
    const s = await setup(t, undefined);
    assert.throws(() => s.make(), (err: Error) => err instanceof ConfigError && err.message.includes('--store') && err.message.includes(s.file));
    const config = { mode: 'local', store: `file:${s.file}`, sftpPath: s.sftpPath, clientUser: 'root' } as Config;
    await assert.rejects(createStore(config, s.cap.log, undefined), (err: Error) => err instanceof ConfigError && err.message.includes(s.file));
    await assert.rejects(createStore({ ...config, store: 'file:' }, s.cap.log, undefined), ConfigError);
  });

  test('serves folder entries (local) and route entries (proxy)', async (t) => {
    const s = await setup(t, null);
    const absolute = join(s.dir, '..', 'elsewhere', 'carol');
    await writeFile(s.file, JSON.stringify({
      _comment: 'fields starting with _ are ignored',
      users: {
        alice: { keys: [k1.publicLine], folder: 'alice' },
        bob: { keys: [k2.blobBase64], route: { remote: '10.0.0.5', port: 2222, user: 'bobby', hostkey: FINGERPRINT } },
        carol: { keys: [k3.publicLine, k1.blobBase64], folder: absolute },
        dave: { keys: [k3.blobBase64], route: { remote: 'sftp.example.com' } },
      },
    }, null, 2));
    const config = { mode: 'local', store: `file:${s.file}`, sftpPath: s.sftpPath, clientUser: 'root' } as Config;
    const store = await createStore(config, s.cap.log, undefined);
    assert.equal(store.kind, 'file');
    t.after(() => store.close());
    await store.start();
    assert.equal(s.cap.find('users file loaded', { users: 4 }).length, 1);

    const alice = await store.authorize('alice', clientKey(k1));
    assert.deepEqual(alice, { ok: true, user: { name: 'alice', target: { kind: 'folder', path: join(await realpath(s.sftpPath), 'alice') }, policy: { permissions: undefined } } });
    assert.deepEqual(await store.authorize('alice', clientKey(k2)), { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' });
    assert.deepEqual(await store.authorize('bob', clientKey(k2)),
      { ok: true, user: { name: 'bob', target: { kind: 'upstream', route: { host: '10.0.0.5', port: 2222, user: 'bobby', hostKey: FINGERPRINT } }, policy: { permissions: undefined } } });
    const carol = await store.authorize('carol', clientKey(k1));
    assert.ok(carol.ok && folderOf(carol.user) === await realpath(absolute), 'absolute folder created and served');
    assert.deepEqual(await store.authorize('dave', clientKey(k3)),
      { ok: true, user: { name: 'dave', target: { kind: 'upstream', route: { host: 'sftp.example.com', port: 22, user: 'root' } }, policy: { permissions: undefined } } }, 'defaults from config');
    assert.deepEqual(await store.authorize('eve', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.deepEqual(await store.authorize('_comment', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
  });

  test('live reload after in-place writes and editor-style replacement', async (t) => {
    const s = await setup(t, { users: { alice: { keys: [k1.publicLine], folder: 'alice' } } });
    const store = s.make();
    await store.start();
    assert.ok((await store.authorize('alice', clientKey(k1))).ok);

    await writeFile(s.file, JSON.stringify({ users: {
      alice: { keys: [k1.publicLine], folder: 'alice' },
      bob: { keys: [k2.publicLine], folder: 'bob' },
    } }));
    await waitForDecision(store, 'bob', k2, 'bob added by an in-place write', accepted);

    const tmpFile = join(s.dir, '.users.json.swp');
    await writeFile(tmpFile, JSON.stringify({ users: {
      alice: { keys: [k3.publicLine], folder: 'alice2' },
      bob: { keys: [k2.publicLine], folder: 'bob' },
    } }));
    await rename(tmpFile, s.file);
    await waitForDecision(store, 'alice', k1, 'alice key replaced by rename', refusedWith('public key not registered'));
    const alice = await store.authorize('alice', clientKey(k3));
    assert.ok(alice.ok && folderOf(alice.user)?.endsWith('/alice2'));
  });

  test('a broken file keeps the previous users and logs where the problem is', async (t) => {
    const s = await setup(t, { users: { alice: { keys: [k1.publicLine], folder: 'alice' } } });
    const store = s.make();
    await store.start();
    const rejected = 'users file rejected: keeping the previous users';

    // Line 4: a missing comma.
    await replaceFile(s.file, [
      '{',
      '  "users": {',
      `    "alice": { "keys": [${JSON.stringify(k1.publicLine)}], "folder": "alice" },`,
      `    "bob": { "keys": [${JSON.stringify(k2.publicLine)}] "folder": "bob" }`,
      '  }',
      '}',
    ].join('\n'));
    const syntax = await waitFor('syntax error logged', () => s.cap.find(rejected)[0]);
    assert.equal(syntax.line, 4, JSON.stringify(syntax));
    assert.equal(typeof syntax.column, 'number');
    assert.ok((await store.authorize('alice', clientKey(k1))).ok, 'previous users kept');
    assert.deepEqual(await store.authorize('bob', clientKey(k2)), { ok: false, code: 'unknown-user', reason: 'unknown user' });

    // Valid JSON, invalid route on line 5.
    await replaceFile(s.file, [
      '{',
      '  "users": {',
      `    "alice": { "keys": [${JSON.stringify(k2.publicLine)}], "folder": "alice" },`,
      '    "_note": "carol is proxied",',
      `    "carol": { "keys": [${JSON.stringify(k3.publicLine)}], "route": { "remote": "bad host!", "port": 22 } }`,
      '  }',
      '}',
    ].join('\n'));
    const semantic = await waitFor('route error logged', () => s.cap.find(rejected)[1]);
    assert.equal(semantic.line, 5);
    assert.match(String(semantic.problem), /users\["carol"\].*route.*"remote"/);
    assert.ok((await store.authorize('alice', clientKey(k1))).ok, 'alice still has her old key');

    // A folder escaping sftp_path.
    await replaceFile(s.file, JSON.stringify({ users: { alice: { keys: [k2.publicLine], folder: '../alice' } } }));
    const folder = await waitFor('folder error logged', () => s.cap.find(rejected)[2]);
    assert.match(String(folder.problem), /"folder".*\.\./);
    assert.ok((await store.authorize('alice', clientKey(k1))).ok);

    // Fixed: applied.
    await replaceFile(s.file, JSON.stringify({ users: { alice: { keys: [k2.publicLine], folder: 'alice' } } }));
    await waitForDecision(store, 'alice', k1, 'fixed file applied', refusedWith('public key not registered'));
    assert.ok((await store.authorize('alice', clientKey(k2))).ok);
    assert.equal(s.cap.find(rejected).length, 3, 'each bad version logged once');
  });

  test('an invalid file at start is a ConfigError with its location', async (t) => {
    const s = await setup(t, '{\n  "users": {\n    "alice": { "keys": [], "folder": "a", }\n  }\n}\n');
    const store = s.make();
    await assert.rejects(store.start(), (err: Error) => err instanceof ConfigError && err.message.includes(s.file) && /line 3/.test(err.message));
  });

  test('entries are validated: keys, folder xor route, route fields', () => {
    const opts = { routeDefaults: { clientUser: 'root' }, sftpPath: '/srv/sftp' };
    const problem = (users: unknown): string => {
      const r = parseUsersFile(JSON.stringify({ users }), opts);
      assert.ok(!(r instanceof Map), `expected a rejection for ${JSON.stringify(users)}`);
      return r.problem;
    };
    const key = k1.publicLine;
    assert.match(problem({ a: { keys: [key], route: { remote: 'h', port: 70000 } } }), /"port"/);
    assert.match(problem({ a: { keys: [key], route: { remote: 'h', hostkey: 'MD5:xx' } } }), /hostkey/);
    assert.match(problem({ a: { keys: [key], route: { remote: 'h', key: 'relative/key' } } }), /"key"/);
    assert.match(problem({ a: { keys: [key], route: { remote: 'h', passwrd: 'x' } } }), /unknown field "passwrd"/);
    assert.match(problem({ a: { keys: [key], route: { remote: 'h', port: true } } }), /"port"/);
    assert.match(problem({ a: { keys: [key], folder: 'a', route: { remote: 'h' } } }), /exactly one/);
    assert.match(problem({ a: { keys: [key] } }), /exactly one/);
    assert.match(problem({ a: { keys: key, folder: 'a' } }), /"keys"/);
    assert.match(problem({ a: { keys: ['ssh-ed25519 !!!'], folder: 'a' } }), /keys\[0\]/);
    assert.match(problem({ a: { keys: [`ssh-rsa ${k1.blobBase64}`], folder: 'a' } }), /does not match/);
    assert.match(problem({ a: { keys: [key], folder: 'x/y' } }), /slash/);
    assert.match(problem({ a: { keys: [key], folder: '.' } }), /"folder"/);
    assert.match(problem({ a: { keys: [key], folder: 'a', flder: 'b' } }), /unknown field "flder"/);
    const ok = parseUsersFile(JSON.stringify({ users: { a: { keys: [key], route: { remote: '[::1]', port: '2200' } } } }), opts);
    assert.ok(ok instanceof Map && ok.get('a')?.route?.host === '::1' && ok.get('a')?.route?.port === 2200);
  });

  test('"active": false refuses the user with code inactive; a non-boolean is a file error', async (t) => {
    const s = await setup(t, { users: {
      alice: { keys: [k1.publicLine], folder: 'alice', active: false },
      bob: { keys: [k2.publicLine], route: { remote: 'h' }, active: true },
    } });
    const store = s.make();
    await store.start();
    const alice = await store.authorize('alice', clientKey(k1));
    assert.ok(!alice.ok && alice.code === 'inactive' && /"active": false/.test(alice.reason), JSON.stringify(alice));
    const otherKey = await store.authorize('alice', clientKey(k2));
    assert.ok(!otherKey.ok && otherKey.code === 'wrong-key', `"inactive" answers the user's own key only: ${JSON.stringify(otherKey)}`);
    assert.ok((await store.authorize('bob', clientKey(k2))).ok, '"active": true is active');

    await replaceFile(s.file, JSON.stringify({ users: { alice: { keys: [k1.publicLine], folder: 'alice' } } }));
    await waitForDecision(store, 'alice', k1, 'alice enabled by dropping "active"', accepted);

    const opts = { routeDefaults: { clientUser: 'root' }, sftpPath: '/srv/sftp' };
    const r = parseUsersFile(JSON.stringify({ users: { a: { keys: [k1.publicLine], folder: 'a', active: 'no' } } }), opts);
    assert.ok(!(r instanceof Map) && /"active" must be true or false/.test(r.problem), JSON.stringify(r));
  });

  test('a relative folder that is a symlink out of sftp_path is refused at login', async (t) => {
    const s = await setup(t, null);
    const outside = join(s.dir, '..', 'files-outside');
    await mkdir(s.sftpPath);
    await mkdir(outside);
    await symlink(outside, join(s.sftpPath, 'alice'));
    await writeFile(s.file, JSON.stringify({ users: { alice: { keys: [k1.publicLine], folder: 'alice' } } }));
    const store = s.make();
    await store.start();
    const d = await store.authorize('alice', clientKey(k1));
    assert.ok(!d.ok && /outside/.test(d.reason), JSON.stringify(d));
    assert.equal(s.cap.find('user folder unusable: logins refused', { user: 'alice' }).length, 1);
    assert.deepEqual(await readdir(outside), []);
  });
});
