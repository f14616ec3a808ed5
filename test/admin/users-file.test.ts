/**
 * `pysftpproxy users|keys` against a users file (`--store file:PATH`): each change replaces the
 * file atomically (a new inode, no temporary file left, mode kept), keeps `_comment` fields and
 * 2-space JSON, and is checked as the server checks the file; a refusal leaves the file untouched.
 */
import assert from 'node:assert/strict';
import { chmod, lstat, readdir, readFile, realpath, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { admin, ok, refused } from './helpers.js';

let tmp: TempDir; let dir: string; let file: string; let files: string;
let dora: GeneratedKey; let eve: GeneratedKey; let bob: GeneratedKey; let dsa: GeneratedKey;
let cli: ReturnType<typeof admin>;

const read = async (): Promise<{ users: Record<string, Record<string, unknown>> } & Record<string, unknown>> => JSON.parse(await readFile(file, 'utf8'));

before(async () => {
  tmp = await makeTempDir('admin-file-');
  dir = join(tmp.path, 'etc');
  await mkdir(dir);
  file = join(dir, 'users.json');
  files = join(tmp.path, 'files');
  [dora, eve, bob, dsa] = await Promise.all([generateKey(tmp.path, 'ed25519', 'dora'), generateKey(tmp.path, 'ecdsa', 'eve'),
    generateKey(tmp.path, 'ed25519', 'bob'), generateKey(tmp.path, 'dsa', 'dsa')]);
  cli = admin(tmp.path, { SFTPPROXY_STORE: `file:${file}`, SFTPPROXY_MODE: 'local', SFTPPROXY_SFTP_PATH: files });
});
after(() => tmp?.cleanup());

/** Runs a command that must be refused: exit 2, the line matches, the file byte-identical and not replaced. */
async function refusedUnchanged(pattern: RegExp, ...args: string[]): Promise<string> {
  const [text, ino] = [await readFile(file, 'utf8'), (await stat(file)).ino];
  const line = refused(await cli(...args), pattern);
  assert.equal(await readFile(file, 'utf8'), text, `file unchanged by ${args.join(' ')}`);
  assert.equal((await stat(file)).ino, ino, 'not replaced either');
  return line;
}

describe('users file', () => {
  test('users add creates a missing file, readable 2-space JSON, the folder defaulting to the name', async () => {
    refused(await cli('users', 'list'), /users file .*users\.json not found \(`pysftpproxy users add` creates it\)/);
    ok(await cli('users', 'add', 'dora', '--key', dora.publicPath), /^added user dora \(folder dora, 1 key\); the server reloads .*users\.json by itself\n$/);
    assert.equal(await readFile(file, 'utf8'), JSON.stringify({ users: { dora: { keys: [dora.publicLine], folder: 'dora' } } }, null, 2) + '\n');
    assert.equal((await stat(file)).mode & 0o777, 0o644);
  });

  test('an edit keeps _comment fields and the other entries, replaces the file atomically and keeps its mode', async () => {
    await writeFile(file, JSON.stringify({
      _comment: 'managed by pysftpproxy users; see README',
      users: { dora: { _comment: 'since 2019', keys: [dora.publicLine], folder: 'dora' }, _old: { keys: [] } },
    }));
    await chmod(file, 0o640);
    const inode = (await stat(file)).ino;
    ok(await cli('users', 'add', 'bob', '--key', bob.publicPath, '--remote', 'sftp-bob', '--port', '2222', '--upstream-user', 'data'), /bob \(data@sftp-bob:2222/);
    const doc = await read();
    assert.equal(doc['_comment'], 'managed by pysftpproxy users; see README');
    assert.deepEqual(doc.users['dora'], { _comment: 'since 2019', keys: [dora.publicLine], folder: 'dora' });
    assert.deepEqual(doc.users['_old'], { keys: [] });
    assert.deepEqual(doc.users['bob'], { keys: [bob.publicLine], route: { remote: 'sftp-bob', port: 2222, user: 'data' } }, 'the port as a number');
    assert.match(await readFile(file, 'utf8'), /^\{\n {2}"_comment": /);
    const st = await stat(file);
    assert.notEqual(st.ino, inode, 'a new file renamed over the old one');
    assert.equal(st.mode & 0o777, 0o640, 'mode kept');
    assert.deepEqual(await readdir(dir), ['users.json'], 'no temporary file left');
  });

  test('refusals leave the file untouched', async () => {
    const k = ['--key', eve.publicPath];
    await refusedUnchanged(/user "dora" already exists \(users\["dora"\] in .*users\.json\)/, 'users', 'add', 'dora', ...k);
    await refusedUnchanged(/key SHA256:\S+ already belongs to user "bob"/, 'users', 'add', 'eve', '--key', bob.publicPath);
    await refusedUnchanged(/users\["eve"\] and users\["dora"\] have the same folder .*: two users never share a folder/, 'users', 'add', 'eve', ...k, '--folder', 'dora');
    await refusedUnchanged(/"folder" .* is or contains sftp_path/, 'users', 'add', 'eve', ...k, '--folder', tmp.path);
    await refusedUnchanged(/"folder" "a\/b" contains a slash/, 'users', 'add', 'eve', ...k, '--folder', 'a/b');
    await refusedUnchanged(/field "port" "65536" is not a port number/, 'users', 'add', 'eve', ...k, '--remote', 'h', '--port', '65536');
    await refusedUnchanged(/DSA/, 'users', 'add', 'eve', '--key', dsa.publicPath);
    await refusedUnchanged(/"all" is an unknown permission/, 'users', 'add', 'eve', ...k, '--permissions', 'all');
    await refusedUnchanged(/user name "_eve" starts with "_", which the users file reads as a comment/, 'users', 'add', '_eve', ...k);
    await refusedUnchanged(/no user "_old"/, 'users', 'show', '_old');
    await refusedUnchanged(/no user "constructor"/, 'users', 'show', 'constructor');
    await refusedUnchanged(/upstream-user: user "dora" is a local-mode user/, 'users', 'set', 'dora', 'upstream-user=x');
    await refusedUnchanged(/folder: user "bob" is a proxy-mode user/, 'users', 'set', 'bob', 'folder=b');
    await refusedUnchanged(/give route options \(--remote \.\.\.\) or --folder, not both/, 'users', 'add', 'eve', ...k, '--folder', 'e', '--remote', 'h');
  });

  test('a file the server would reject already: refused, naming where', async () => {
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.replace('"folder": "dora"', '"folder": "dora",'));
    await refusedUnchanged(/users file .*users\.json is invalid \(line \d+, column \d+: invalid JSON: .*\): fix it first/, 'users', 'add', 'eve', '--key', eve.publicPath);
    await writeFile(file, good);
  });

  test('set, disable/enable, keys add/remove, remove', async () => {
    ok(await cli('users', 'set', 'bob', 'home=/srv/bob', 'port=', 'permissions=read-only'));
    assert.deepEqual((await read()).users['bob'], { keys: [bob.publicLine], route: { remote: 'sftp-bob', user: 'data', home: '/srv/bob' }, permissions: 'read-only' });
    ok(await cli('users', 'disable', 'dora'), /^disabled user dora: logins refused from now on; the server reloads/);
    assert.equal((await read()).users['dora']!['active'], false);
    ok(await cli('users', 'enable', 'dora'));
    assert.equal('active' in (await read()).users['dora']!, false, 'enabled: the field is gone');
    ok(await cli('keys', 'add', 'dora', eve.publicLine));
    assert.deepEqual((await read()).users['dora']!['keys'], [dora.publicLine, eve.publicLine]);
    assert.deepEqual(ok(await cli('keys', 'list', 'dora')).trimEnd().split('\n'),
      [`${dora.fingerprint}  ssh-ed25519  dora@harness`, `${eve.fingerprint}  ecdsa-sha2-nistp256  eve@harness`]);
    ok(await cli('keys', 'remove', 'dora', dora.publicPath));
    assert.deepEqual((await read()).users['dora']!['keys'], [eve.publicLine]);
    ok(await cli('users', 'remove', 'bob'), /^removed user bob \(1 key\)/);
    assert.deepEqual(Object.keys((await read()).users), ['dora', '_old']);
    const json = JSON.parse(ok(await cli('users', 'show', 'dora', '--json'))) as Record<string, unknown>;
    assert.deepEqual(json, { name: 'dora', active: true, folder: 'dora', permissions: '*', location: `users["dora"] in ${file}`, problems: [],
      keys: [{ fingerprint: eve.fingerprint, type: 'ecdsa-sha2-nistp256', comment: 'eve@harness' }] });
  });

  test('a users file that is a symlink stays one: the file it points to is replaced', async () => {
    const real = join(tmp.path, 'real-users.json');
    await writeFile(real, await readFile(file, 'utf8'));
    const link = join(dir, 'linked.json');
    await symlink(real, link);
    const viaLink = admin(tmp.path, { SFTPPROXY_STORE: `file:${link}`, SFTPPROXY_MODE: 'local', SFTPPROXY_SFTP_PATH: files });
    ok(await viaLink('users', 'disable', 'dora'));
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await realpath(link), real);
    assert.equal((JSON.parse(await readFile(real, 'utf8')) as { users: Record<string, { active?: boolean }> }).users['dora']!.active, false);
  });
});
