/**
 * The smallest local-mode setup: one user with a generated key in a users file (no Redis), its
 * folder, and the command-line arguments that serve it on a free loopback port.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, type GeneratedKey, type KeyType } from './keys.js';
import { writeKnownHosts } from './sftp-cli.js';

export interface LocalUserSetup {
  name: string;
  key: GeneratedKey;
  usersFile: string;
  /** --sftp-path: the parent of the user's folder `<files>/<name>`. */
  files: string;
  /** --data-dir, where the product generates its host key. */
  dataDir: string;
  /** Arguments for bin/pysftpproxy serving this user in local mode on 127.0.0.1, port 0. */
  args: string[];
}

export async function localUserSetup(dir: string, name = 'dora', keyType: KeyType = 'ed25519'): Promise<LocalUserSetup> {
  const key = await generateKey(dir, keyType, name);
  const files = join(dir, 'files');
  await mkdir(join(files, name), { recursive: true });
  const usersFile = join(dir, 'users.json');
  await writeFile(usersFile, JSON.stringify({ users: { [name]: { keys: [key.publicLine], folder: name } } }));
  const dataDir = join(dir, 'data');
  const args = ['--mode', 'local', '--store', `file:${usersFile}`, '--sftp-path', files, '--port', '0', '--listen', '127.0.0.1',
    '--data-dir', dataDir];
  return { name, key, usersFile, files, dataDir, args };
}

/**
 * The setup for several users: the first as localUserSetup makes it, each further one with its
 * own key and folder `<files>/<name>` in the same users file.
 */
export async function localUsersSetup(dir: string, names: string[]): Promise<{ setup: LocalUserSetup; keys: Map<string, GeneratedKey> }> {
  const setup = await localUserSetup(dir, names[0]);
  const keys = new Map<string, GeneratedKey>([[setup.name, setup.key]]);
  const file = JSON.parse(await readFile(setup.usersFile, 'utf8')) as { users: Record<string, unknown> };
  for (const name of names.slice(1)) {
    const key = await generateKey(dir, 'ed25519', name);
    keys.set(name, key);
    await mkdir(join(setup.files, name));
    file.users[name] = { keys: [key.publicLine], folder: name };
  }
  await writeFile(setup.usersFile, JSON.stringify(file));
  return { setup, keys };
}

/** The product's generated host public key line (after it started with `dataDir`). */
export async function productHostKeyLine(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
}

/** A known_hosts file in `dir` trusting the product's host key on `port`. */
export async function productKnownHosts(dir: string, dataDir: string, port: number): Promise<string> {
  return writeKnownHosts(join(dir, 'known_hosts'), await productHostKeyLine(dataDir), port);
}
