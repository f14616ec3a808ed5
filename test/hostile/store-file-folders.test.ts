/**
 * Issue #11: the users file must not give two users overlapping folders (the outer user could swap
 * the inner folder for a symlink and lead the inner user out), and a folder with a symlink on its
 * path is refused at login. Real files, real symlinks.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { FileStore, parseUsersFile } from '../../src/auth/file-store.js';
import { ConfigError } from '../../src/config/config-error.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { captureLog, clientKey, waitFor, type CapturedLog } from '../stores/helpers.js';

let keysDir: TempDir;
let k1: GeneratedKey;

before(async () => {
  keysDir = await makeTempDir('file-folders-keys-');
  k1 = await generateKey(keysDir.path, 'ed25519', 'k1');
});
after(() => keysDir.cleanup());

interface Setup {
  base: string;
  file: string;
  sftpPath: string;
  cap: CapturedLog;
  store(): FileStore;
}

async function setup(t: TestContext, sftpPath?: (base: string) => Promise<string>): Promise<Setup> {
  const tmp = await makeTempDir('file-folders-');
  t.after(() => tmp.cleanup());
  const base = await realpath(tmp.path);
  const file = join(base, 'users.json');
  const sftp = sftpPath ? await sftpPath(base) : join(base, 'files');
  const cap = captureLog();
  return {
    base, file, sftpPath: sftp, cap,
    store() {
      const s = new FileStore(file, { sftpPath: sftp, routeDefaults: { clientUser: 'root' }, debounceMs: 50, pollMs: 600_000 }, cap.log);
      t.after(() => s.close());
      return s;
    },
  };
}

const users = (folders: Record<string, string>): string =>
  JSON.stringify({ users: Object.fromEntries(Object.entries(folders).map(([n, f]) => [n, { keys: [k1.publicLine], folder: f }])) });

async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(file + '.tmp', text);
  await rename(file + '.tmp', file);
}

describe('users file folders never overlap', () => {
  test('overlapping or identical folders are refused, naming both users', () => {
    const sftpPath = '/srv/sftp';
    const opts = { routeDefaults: { clientUser: 'root' }, sftpPath };
    const problem = (folders: Record<string, string>): string => {
      const r = parseUsersFile(users(folders), opts);
      assert.ok(!(r instanceof Map), `expected a rejection for ${JSON.stringify(folders)}`);
      return r.problem;
    };
    const both = (p: string, a: string, b: string): void => {
      assert.ok(p.includes(`users["${a}"]`) && p.includes(`users["${b}"]`), p);
    };
    both(problem({ outer: '/data/a', inner: '/data/a/b' }), 'outer', 'inner');
    both(problem({ inner: '/data/a/b/c', outer: '/data/a' }), 'outer', 'inner');
    both(problem({ one: '/data/a', two: '/data/./a/' }), 'one', 'two');
    both(problem({ one: 'shared', two: 'shared' }), 'one', 'two');
    both(problem({ rel: 'bob', abs: '/srv/sftp/bob' }), 'rel', 'abs');
    both(problem({ rel: 'bob', abs: '/srv/sftp/bob/in' }), 'rel', 'abs');
    assert.match(problem({ abs: '/srv/sftp' }), /users\["abs"\].*sftp_path/);
    assert.match(problem({ abs: '/srv' }), /users\["abs"\].*sftp_path/);
    assert.match(problem({ abs: '/', rel: 'x' }), /users\["abs"\].*sftp_path/);
    // Neighbours are fine, including names that are prefixes of one another.
    const ok = parseUsersFile(users({ a: '/data/a', ab: '/data/a-b', ac: '/data/a.c', b: 'b', b2: 'b2', d: '/srv/sftp/d', e: '/srv/sftp-e' }), opts);
    assert.ok(ok instanceof Map && ok.size === 7, JSON.stringify(ok));
  });

  test('at startup an overlap is a ConfigError; on reload the previous users stay and it is logged', async (t) => {
    const s = await setup(t);
    await writeFile(s.file, users({ alice: join(s.base, 'data'), bob: join(s.base, 'data', 'bob') }));
    await assert.rejects(s.store().start(), (err: Error) => err instanceof ConfigError && /"alice"/.test(err.message) && /"bob"/.test(err.message));

    await writeFile(s.file, users({ alice: 'alice', bob: 'bob' }));
    const store = s.store();
    await store.start();
    assert.ok((await store.authorize('bob', clientKey(k1))).ok);
    await replaceFile(s.file, users({ alice: 'alice', bob: 'bob', mallory: s.sftpPath }));
    const line = await waitFor('overlap logged', () => s.cap.find('users file rejected: keeping the previous users')[0]);
    assert.match(String(line.problem), /users\["mallory"\].*sftp_path/);
    assert.deepEqual(await store.authorize('mallory', clientKey(k1)), { ok: false, code: 'unknown-user', reason: 'unknown user' });
    assert.ok((await store.authorize('bob', clientKey(k1))).ok, 'previous users kept');
  });

  test('sftp_path behind a symlink is compared as it really is', async (t) => {
    const s = await setup(t, async (base) => {
      await mkdir(join(base, 'real-files'));
      await symlink(join(base, 'real-files'), join(base, 'files'));
      return join(base, 'files');
    });
    await writeFile(s.file, users({ bob: 'bob', mallory: join(s.base, 'real-files', 'bob') }));
    await assert.rejects(s.store().start(), (err: Error) => err instanceof ConfigError && /"bob"/.test(err.message) && /"mallory"/.test(err.message));

    // Relative folders below the operator's symlink are served (at their real path).
    await writeFile(s.file, users({ bob: 'bob' }));
    const store = s.store();
    await store.start();
    const bob = await store.authorize('bob', clientKey(k1));
    assert.deepEqual(bob, { ok: true, user: { name: 'bob', target: { kind: 'folder', path: join(s.base, 'real-files', 'bob') }, policy: { permissions: undefined } } });
  });

  test('a folder with a symlink on its path is refused at login', async (t) => {
    const s = await setup(t);
    await mkdir(join(s.sftpPath, 'bob'), { recursive: true });
    await symlink(join(s.sftpPath, 'bob'), join(s.sftpPath, 'alice')); // inside sftp_path, but bob's
    await mkdir(join(s.base, 'elsewhere', 'carol'), { recursive: true });
    await symlink(join(s.base, 'elsewhere'), join(s.base, 'link'));
    await writeFile(s.file, users({ alice: 'alice', bob: 'bob', carol: join(s.base, 'link', 'carol'), dave: join(s.base, 'dave') }));
    const store = s.store();
    await store.start();

    const alice = await store.authorize('alice', clientKey(k1));
    assert.ok(!alice.ok && /symlink/.test(alice.reason), JSON.stringify(alice));
    const carol = await store.authorize('carol', clientKey(k1));
    assert.ok(!carol.ok && /symlink/.test(carol.reason), JSON.stringify(carol));
    for (const user of ['alice', 'carol']) {
      const lines = s.cap.find('user folder unusable: logins refused', { user });
      assert.equal(lines.length, 1, user);
      assert.match(String(lines[0]!.problem), /symlink/);
    }
    assert.ok((await store.authorize('bob', clientKey(k1))).ok);
    const dave = await store.authorize('dave', clientKey(k1));
    assert.deepEqual(dave, { ok: true, user: { name: 'dave', target: { kind: 'folder', path: join(s.base, 'dave') }, policy: { permissions: undefined } } }, 'created where written');
    assert.deepEqual(await readdir(join(s.sftpPath, 'bob')), []);
  });
});
