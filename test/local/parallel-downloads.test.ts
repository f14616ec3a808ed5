// Local mode lends the buffers of large READ replies from one pool for the whole process and
// takes each back when the SSH channel has copied it out (src/sftp/server/read-buffers.ts). A
// buffer taken back too early would carry one download's bytes into another's: real OpenSSH
// clients (255 KiB READs, so the pool is used) download different files at the same time, over
// more data than the 2 MiB channel window holds, and every copy must be byte-identical.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  localUsersSetup, makeTempDir, productKnownHosts, runSftp, startProxy, type GeneratedKey, type LocalUserSetup, type ProxyHandle, type TempDir,
} from '../harness/index.js';

const USERS = ['ann', 'ben', 'cal'];
const FILE_BYTES = 12 * 1024 * 1024 + 4321;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('parallel local-mode downloads through the shared read buffers', () => {
  let tmp: TempDir;
  let setup: LocalUserSetup;
  let keys: Map<string, GeneratedKey>;
  let server: ProxyHandle;
  let knownHosts: string;
  const want = new Map<string, string>();

  before(async () => {
    tmp = await makeTempDir('pysftpproxy-parallel-get-');
    ({ setup, keys } = await localUsersSetup(tmp.path, USERS));
    for (const name of USERS) {
      const data = randomBytes(FILE_BYTES);
      want.set(name, sha(data));
      await writeFile(join(setup.files, name, 'big.bin'), data);
      await writeFile(join(setup.files, name, 'small.bin'), randomBytes(5000)); // copied out of its buffer
      await mkdir(join(tmp.path, `client-${name}`));
    }
    server = await startProxy({ args: setup.args });
    knownHosts = await productKnownHosts(tmp.path, setup.dataDir, server.port);
  });
  after(async () => { await server?.stop(); await tmp?.cleanup(); });

  test('three users download different files at once, twice each, byte-identical', { timeout: 60_000 }, async () => {
    const results = await Promise.all(USERS.map((name) => runSftp({
      port: server.port, user: name, keyPath: keys.get(name)!.privatePath, knownHostsPath: knownHosts,
      cwd: join(tmp.path, `client-${name}`), timeoutMs: 40_000,
      batch: ['get big.bin one.bin', 'get small.bin small.bin', 'get big.bin two.bin'],
    })));
    for (const [i, name] of USERS.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      for (const copy of ['one.bin', 'two.bin']) {
        const got = await readFile(join(tmp.path, `client-${name}`, copy));
        assert.equal(got.length, FILE_BYTES, `${name} ${copy} length`);
        assert.equal(sha(got), want.get(name), `${name} ${copy} is not the file served`);
      }
      assert.deepEqual(await readFile(join(tmp.path, `client-${name}`, 'small.bin')), await readFile(join(setup.files, name, 'small.bin')));
    }
  });
});
