/**
 * A client may offer a key blob of ~33 KB; each login attempt then hashed it once per stored key
 * of the user. Every store refuses blobs larger than any real key before comparing.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FileStore } from '../../src/auth/file-store.js';
import { generateKey, makeTempDir, type GeneratedKey, type TempDir } from '../harness/index.js';
import { captureLog, clientKey } from '../stores/helpers.js';
import { addUser, soltSetup } from '../stores/solt-setup.js';

let dir: TempDir;
let k1: GeneratedKey;

before(async () => {
  dir = await makeTempDir('offered-key-');
  k1 = await generateKey(dir.path, 'ed25519', 'k1');
});
after(() => dir.cleanup());

const huge = { algo: 'ssh-ed25519', data: Buffer.alloc(33_000, 7) };
const refusedForSize = (d: { ok: boolean; reason?: string }): boolean => !d.ok && /33000 bytes, larger than any real key/.test(d.reason ?? '');

test('redis-solt and the users file refuse an oversized offered key before comparing it', async (t) => {
  const s = await soltSetup(t);
  await addUser(s.admin, '1', { name: 'ann', folder: 'ann', active: 'True' }, [k1.blobBase64]);
  const solt = s.make();
  await solt.start();
  assert.ok(refusedForSize(await solt.authorize('ann', huge)));
  assert.ok((await solt.authorize('ann', clientKey(k1))).ok);

  const file = join(dir.path, 'users.json');
  await writeFile(file, JSON.stringify({ users: { ann: { keys: [k1.publicLine], folder: 'ann' } } }));
  const fileStore = new FileStore(file, { sftpPath: join(dir.path, 'files'), routeDefaults: { clientUser: 'root' }, pollMs: 600_000 }, captureLog().log);
  t.after(() => fileStore.close());
  await fileStore.start();
  assert.ok(refusedForSize(await fileStore.authorize('ann', huge)));
  assert.ok((await fileStore.authorize('ann', clientKey(k1))).ok);
});
