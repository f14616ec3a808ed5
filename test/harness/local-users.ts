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
  return (await usersSetup(dir, [name], keyType)).setup;
}

/** The same for several users, each with its own key and folder `<files>/<name>` in one users file. */
export async function localUsersSetup(dir: string, names: string[]): Promise<{ setup: LocalUserSetup; keys: Map<string, GeneratedKey> }> {
  return usersSetup(dir, names, 'ed25519');
}

async function usersSetup(dir: string, names: string[], keyType: KeyType): Promise<{ setup: LocalUserSetup; keys: Map<string, GeneratedKey> }> {
  const files = join(dir, 'files');
  const keys = new Map<string, GeneratedKey>();
  const users: Record<string, unknown> = {};
  for (const name of names) {
    const key = await generateKey(dir, keyType, name);
    keys.set(name, key);
    await mkdir(join(files, name), { recursive: true });
    users[name] = { keys: [key.publicLine], folder: name };
  }
  const usersFile = join(dir, 'users.json');
  await writeFile(usersFile, JSON.stringify({ users }));
  const dataDir = join(dir, 'data');
  const args = ['--mode', 'local', '--store', `file:${usersFile}`, '--sftp-path', files, '--port', '0', '--listen', '127.0.0.1',
    '--data-dir', dataDir];
  const name = names[0]!;
  return { setup: { name, key: keys.get(name)!, usersFile, files, dataDir, args }, keys };
}

/** The product's generated host public key line (after it started with `dataDir`). */
export async function productHostKeyLine(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
}

/** A known_hosts file in `dir` trusting the product's host key on `port`. */
export async function productKnownHosts(dir: string, dataDir: string, port: number): Promise<string> {
  return writeKnownHosts(join(dir, 'known_hosts'), await productHostKeyLine(dataDir), port);
}
