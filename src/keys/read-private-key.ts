// Reads and checks an SSH private key file, so a bad key is a startup error, not a failed login later.
import fs from 'node:fs';
import ssh2 from 'ssh2';
import { ConfigError } from '../config/config-error.js';
import { fingerprint } from './fingerprint.js';

export interface LoadedKey {
  path: string;
  /** File content, as ssh2 wants it. */
  pem: Buffer;
  type: string;
  /** Fingerprint of the public half. */
  fingerprint: string;
  publicBlob: Buffer;
}

/** `option` names the setting the path came from, for the error message. */
export function readPrivateKey(file: string, option: string): LoadedKey {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const key = parsePrivateKey(file, pem);
  if (typeof key === 'string') throw new ConfigError(`${option} ${file}: ${key}`);
  return key;
}

/** The key in `pem`, or why it is not usable. */
export function parsePrivateKey(file: string, pem: Buffer): LoadedKey | string {
  let parsed;
  try {
    parsed = ssh2.utils.parseKey(pem);
  } catch (err) { // ssh2 asserts rather than returning an error for some malformed keys
    parsed = err as Error;
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const why = key instanceof Error ? key.message : 'no key found';
    return `not a usable SSH private key (${why}); passphrase-protected keys are not supported`;
  }
  if (!key.isPrivateKey()) return 'is a public key; give the private key file';
  const publicBlob = key.getPublicSSH();
  return { path: file, pem, type: key.type, fingerprint: fingerprint(publicBlob), publicBlob };
}
