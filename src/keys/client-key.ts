// The private key the proxy logs in upstream with: configured, or the running user's own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { readPrivateKey, type LoadedKey } from './read-private-key.js';

export function loadClientKey(configured: string | undefined): LoadedKey {
  if (configured) return readPrivateKey(configured, '--client-key-path');
  const candidates = ['id_ed25519', 'id_rsa'].map((n) => path.join(os.homedir(), '.ssh', n));
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) {
    throw new ConfigError(`no key for upstream logins: set --client-key-path (SFTPPROXY_CLIENT_KEY_PATH) ` +
      `or create ${candidates.join(' or ')}`);
  }
  return readPrivateKey(found, 'client key');
}
