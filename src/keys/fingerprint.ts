import { createHash } from 'node:crypto';

/** OpenSSH-style fingerprint of an SSH wire-format public key blob: `SHA256:` + unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}
