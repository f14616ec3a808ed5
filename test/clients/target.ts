/**
 * What the real-client matrix runs against: an SFTP endpoint on loopback plus the facts a client
 * needs to log in with a verified host key, and where uploaded files land on the real disk.
 * Proxy mode builds one in fixtures/proxy-target.ts, local mode in fixtures/local-target.ts.
 */
import { posix } from 'node:path';
import {
  fingerprintOfBlob, generateKey, parsePublicLine, productHostKeyLine, productKnownHosts,
  type GeneratedKey, type KeyType, type LogLine, type ProxyHandle,
} from '../harness/index.js';

export type ClientKeyType = Exclude<KeyType, 'dsa'>;
export const CLIENT_KEY_TYPES: readonly ClientKeyType[] = ['ed25519', 'ecdsa', 'rsa'];

export interface Target {
  /** Short label for test names, e.g. `proxy`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Login name; every key from keyFor() is registered for it. */
  readonly user: string;
  /** A client key pair of this type that may log in as `user`. */
  keyFor(type: ClientKeyType): GeneratedKey;
  /** OpenSSH known_hosts file trusting the target's host key for `[host]:port`. */
  readonly knownHostsPath: string;
  /** `SHA256:<unpadded base64>` of the target's host key. */
  readonly hostKeyFingerprint: string;
  /** The target's host public key line (`ssh-ed25519 AAAA... comment`). */
  readonly hostPublicKeyLine: string;
  /** Directory on the real disk where the client's relative paths land. */
  readonly remoteDir: string;
  /** What clients prefix to a relative path: '' (start directory) or an absolute dir like `/data`. */
  readonly remotePathPrefix: string;
  /** The product's JSON log lines so far (to check why a login was refused). */
  logs(): LogLine[];
  /** The first log line at index >= `since` matching `predicate`, waiting up to `timeoutMs`. */
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs: number, since: number): Promise<LogLine>;
}

/** The client-side path of `rel` (a relative path under remoteDir). */
export function remotePath(target: Target, rel: string): string {
  return target.remotePathPrefix === '' ? rel : posix.join(target.remotePathPrefix, rel);
}

/** Base64 sha256 of the host key blob (padded), as curl's --hostpubsha256 takes it. */
export function hostKeySha256Base64(target: Target): string {
  const b64 = target.hostKeyFingerprint.replace(/^SHA256:/, '');
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4);
}

/** One client key pair of each type, in `dir`. */
export async function generateClientKeys(dir: string): Promise<Map<ClientKeyType, GeneratedKey>> {
  const keys = new Map<ClientKeyType, GeneratedKey>();
  for (const type of CLIENT_KEY_TYPES) keys.set(type, await generateKey(dir, type, `client_${type}`));
  return keys;
}

/**
 * The Target of a running `bin/pysftpproxy` (either mode): its generated host key (in `dataDir`)
 * trusted in a known_hosts file written to `tmpDir`, and `user` logging in with `keys`.
 */
export async function productTarget(name: string, proxy: ProxyHandle, dataDir: string, tmpDir: string, user: string,
    keys: Map<ClientKeyType, GeneratedKey>, remoteDir: string): Promise<Target> {
  const hostPublicKeyLine = await productHostKeyLine(dataDir);
  return {
    name,
    host: '127.0.0.1',
    port: proxy.port,
    user,
    keyFor(type: ClientKeyType): GeneratedKey {
      const k = keys.get(type);
      if (!k) throw new Error(`no ${type} key`);
      return k;
    },
    knownHostsPath: await productKnownHosts(tmpDir, dataDir, proxy.port),
    hostKeyFingerprint: fingerprintOfBlob(parsePublicLine(hostPublicKeyLine).blobBase64),
    hostPublicKeyLine,
    remoteDir,
    remotePathPrefix: '',
    logs: () => proxy.logs(),
    waitForLog: (predicate, timeoutMs, since) => proxy.waitForLog(predicate, timeoutMs, since),
  };
}
