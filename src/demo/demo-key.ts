// An ed25519 key pair in a file, made on the first run and reused after (so a printed command
// keeps working from one run to the next).
import fs from 'node:fs';
import { fingerprint } from '../keys/fingerprint.js';
import { generateEd25519 } from '../keys/generate-ed25519.js';

export interface DemoKey {
  privatePath: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicLine: string;
  /** The base64 key blob (the middle field of the public line). */
  blob: string;
  fingerprint: string;
}

export function demoKey(privatePath: string, comment: string): DemoKey {
  if (!fs.existsSync(privatePath) || !fs.existsSync(privatePath + '.pub')) {
    const pair = generateEd25519(comment);
    fs.writeFileSync(privatePath, pair.private + '\n', { mode: 0o600 });
    fs.writeFileSync(privatePath + '.pub', pair.public + '\n');
  }
  const publicLine = fs.readFileSync(privatePath + '.pub', 'utf8').trim();
  const blob = publicLine.split(/\s+/)[1] ?? '';
  return { privatePath, publicLine, blob, fingerprint: fingerprint(Buffer.from(blob, 'base64')) };
}
