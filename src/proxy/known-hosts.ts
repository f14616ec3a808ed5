// Reads an OpenSSH known_hosts file: plain, `[host]:port`, hashed (|1|salt|hash) and wildcard
// host patterns, negation, and @revoked. @cert-authority lines are ignored (no certificates here).
import { createHmac } from 'node:crypto';
import fs from 'node:fs';

export interface KnownKey {
  blob: Buffer;
  revoked: boolean;
}

function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(name);
}

function hostMatches(patterns: string, name: string): boolean {
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) { if (patternMatches(p.slice(1), name)) return false; }
    else if (patternMatches(p, name)) matched = true;
  }
  return matched;
}

/** Keys listed for host:port. A missing or unreadable file lists none. */
export function knownKeysFor(file: string, host: string, port: number): KnownKey[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const name = hostName(host, port);
  const keys: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let fields = line.split(/\s+/);
    let marker = '';
    if (fields[0]!.startsWith('@')) { marker = fields[0]!; fields = fields.slice(1); }
    if (marker === '@cert-authority' || fields.length < 3) continue;
    if (!hostMatches(fields[0]!, name)) continue;
    keys.push({ blob: Buffer.from(fields[2]!, 'base64'), revoked: marker === '@revoked' });
  }
  return keys;
}
