// The proxy's SSH host key: the configured file, or an ed25519 key generated once into the data
// directory and reused on every start (so clients' known_hosts stay valid).
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/options.js';
import { generateEd25519 } from './generate-ed25519.js';
import { readPrivateKey, type LoadedKey } from './read-private-key.js';

export interface HostKey extends LoadedKey {
  generated: boolean;
}

export function loadHostKey(config: Pick<Config, 'privatekeyPath' | 'publickeyPath' | 'dataDir'>): HostKey {
  if (config.privatekeyPath) {
    const key = readPrivateKey(config.privatekeyPath, '--privatekey-path');
    if (config.publickeyPath) checkPublicMatches(key, config.publickeyPath);
    return { ...key, generated: false };
  }
  const file = path.join(config.dataDir, 'ssh_host_ed25519_key');
  if (fs.existsSync(file)) return { ...readPrivateKey(file, 'generated host key'), generated: false };
  try {
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const pair = generateEd25519();
    // Written to a temp name first: a crash mid-write must not leave a truncated key behind.
    fs.writeFileSync(file + '.tmp', pair.private, { mode: 0o600 });
    fs.writeFileSync(file + '.pub', pair.public + '\n', { mode: 0o644 });
    fs.renameSync(file + '.tmp', file);
  } catch (err) {
    throw new ConfigError(`--data-dir ${config.dataDir}: cannot create the host key there (${(err as Error).message}); ` +
      'choose a writable directory or set --privatekey-path');
  }
  return { ...readPrivateKey(file, 'generated host key'), generated: true };
}

function checkPublicMatches(key: LoadedKey, publicPath: string): void {
  const parsed = ssh2.utils.parseKey(fs.readFileSync(publicPath));
  const pub = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!pub || pub instanceof Error || !pub.getPublicSSH().equals(key.publicBlob)) {
    throw new ConfigError(`--publickey-path ${publicPath}: is not the public half of --privatekey-path ${key.path}`);
  }
}

