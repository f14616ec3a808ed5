// The product in local mode with several users (a users file, no Redis), and ssh2 clients that
// log in as them: what the hostile local-mode tests attack through a real SSH connection.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2, { type ClientChannel, type SFTPWrapper } from 'ssh2';
import {
  localUsersSetup,
  makeTempDir,
  parsePublicLine,
  productHostKeyLine,
  startProxy,
  type GeneratedKey,
  type ProxyHandle,
  type TempDir,
} from '../harness/index.js';

export interface LocalProduct {
  proxy: ProxyHandle;
  tmp: TempDir;
  /** Host folder of each user (served as their "/"). */
  folder(user: string): string;
  key(user: string): GeneratedKey;
  /** Log in as `user` (host key checked). */
  login(user: string): Promise<ssh2.Client>;
  close(): Promise<void>;
}

/** Start `bin/pysftpproxy --mode local` serving `users` (each with its own key and folder). */
export async function startLocalProduct(users: string[], extraArgs: string[] = []): Promise<LocalProduct> {
  const tmp = await makeTempDir('pysftpproxy-hostile-');
  try {
    const { setup, keys } = await localUsersSetup(tmp.path, users);
    const proxy = await startProxy({ args: [...setup.args, ...extraArgs] });
    const hostKey = Buffer.from(parsePublicLine(await productHostKeyLine(setup.dataDir)).blobBase64, 'base64');
    return {
      proxy,
      tmp,
      folder: (user) => join(setup.files, user),
      key: (user) => keys.get(user)!,
      login: (user) => login(proxy.port, user, keys.get(user)!, hostKey),
      async close() {
        await proxy.stop();
        await tmp.cleanup();
      },
    };
  } catch (err) {
    await tmp.cleanup();
    throw err;
  }
}

function login(port: number, user: string, key: GeneratedKey, hostKey: Buffer): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    conn.once('ready', () => {
      conn.on('error', () => undefined); // later errors surface through the operations
      resolve(conn);
    });
    conn.once('error', reject);
    void readFile(key.privatePath).then((privateKey) =>
      conn.connect({ host: '127.0.0.1', port, username: user, privateKey, readyTimeout: 10_000,
        hostVerifier: (k: Buffer) => k.equals(hostKey) }));
  });
}

/** An SFTP session over `conn` through ssh2's client. */
export function sftpOf(conn: ssh2.Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => conn.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

/** The raw `sftp` subsystem channel: packets are the caller's to write (see test/sftp/raw-client.ts). */
export function sftpChannel(conn: ssh2.Client): Promise<ClientChannel> {
  return new Promise((resolve, reject) => conn.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))));
}
