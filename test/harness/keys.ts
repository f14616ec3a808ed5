/** SSH key pairs generated with the real ssh-keygen. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileCollect } from './exec.js';

/** 'dsa' only to test that such keys are refused. */
export type KeyType = 'ed25519' | 'ecdsa' | 'rsa' | 'dsa';

export interface GeneratedKey {
  type: KeyType;
  /** OpenSSH private key file (mode 0600, no passphrase). */
  privatePath: string;
  /** `<privatePath>.pub` */
  publicPath: string;
  /** The .pub line without trailing newline: `<algo> <base64> <comment>`. */
  publicLine: string;
  /** Key algorithm name from the .pub line, e.g. `ssh-ed25519`. */
  algorithm: string;
  /** The base64 middle field of the .pub line (the wire-format key blob). */
  blobBase64: string;
  /** OpenSSH-style fingerprint `SHA256:<unpadded base64>`. */
  fingerprint: string;
}

/** `SHA256:...` fingerprint of a base64 key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOfBlob(blobBase64: string): string {
  const digest = createHash('sha256').update(Buffer.from(blobBase64, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** Split a public key line `<algo> <base64> [comment]`. */
export function parsePublicLine(line: string): { algorithm: string; blobBase64: string; comment: string } {
  const [algorithm, blobBase64, ...rest] = line.trim().split(/\s+/);
  if (!algorithm || !blobBase64) throw new Error(`not a public key line: ${JSON.stringify(line)}`);
  return { algorithm, blobBase64, comment: rest.join(' ') };
}

/**
 * Generate a passphrase-less key with `ssh-keygen -q -N '' -t TYPE -f DIR/NAME`
 * (ecdsa: 256 bits; rsa: 3072 bits). `name` defaults to `id_<type>`.
 */
export async function generateKey(dir: string, type: KeyType, name = `id_${type}`): Promise<GeneratedKey> {
  const privatePath = join(dir, name);
  const args = ['-q', '-N', '', '-t', type, '-C', `${name}@harness`, '-f', privatePath];
  if (type === 'ecdsa') args.push('-b', '256');
  if (type === 'rsa') args.push('-b', '3072');
  const res = await execFileCollect('ssh-keygen', args, { timeoutMs: 30_000 });
  if (res.code !== 0) {
    throw new Error(`ssh-keygen failed (code ${res.code}): ${res.stderr}${res.stdout}`);
  }
  const publicPath = `${privatePath}.pub`;
  const publicLine = (await readFile(publicPath, 'utf8')).trim();
  const { algorithm, blobBase64 } = parsePublicLine(publicLine);
  return {
    type,
    privatePath,
    publicPath,
    publicLine,
    algorithm,
    blobBase64,
    fingerprint: fingerprintOfBlob(blobBase64),
  };
}

/**
 * A known_hosts line for `host` on `port`: `[host]:port algo blob` (plain
 * `host algo blob` for port 22). `hostKeyLine` is a .pub line.
 */
export function knownHostsEntry(hostKeyLine: string, port: number, host = '127.0.0.1'): string {
  const { algorithm, blobBase64 } = parsePublicLine(hostKeyLine);
  const name = port === 22 ? host : `[${host}]:${port}`;
  return `${name} ${algorithm} ${blobBase64}`;
}
