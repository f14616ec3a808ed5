// A public key given on the command line: a .pub file or the line itself (FILE|LINE). Checked as
// strictly as a login would check it, so a key that could never log in is refused before it is
// stored: it must parse as the stores parse it (public-key-text.ts), ssh2 must be able to load it,
// and DSA is refused as at login.
import fs from 'node:fs';
import ssh2 from 'ssh2';
import { MAX_KEY_TEXT, parsePublicKeyText } from '../auth/public-key-text.js';
import { fingerprint } from '../keys/fingerprint.js';
import { refuse } from './admin-error.js';

export interface AdminKey {
  /** Key type, e.g. `ssh-ed25519`. */
  algo: string;
  /** SSH wire-format key blob. */
  blob: Buffer;
  /** The comment after the key on a .pub line, if any. */
  comment?: string;
  /** `SHA256:...`, as ssh-keygen -l shows it. */
  fingerprint: string;
}

const LINE_HINT = 'not an OpenSSH public key line ("ssh-ed25519 AAAA... comment")';

function isFile(arg: string): boolean {
  try {
    return fs.statSync(arg).isFile();
  } catch {
    return false;
  }
}

/**
 * `arg` is a file if one exists under that name, else the key line itself. `option` names where it
 * came from (`--key`). `strict` (for keys about to be stored): also a key ssh2 can load, not DSA;
 * off for naming a key to remove, whatever it is.
 */
export function readKeyArgument(arg: string, option: string, strict = true): AdminKey {
  if (!isFile(arg)) {
    if (!/\s/.test(arg.trim()) && !/^[A-Za-z0-9+/]{40,}={0,2}$/.test(arg.trim())) {
      refuse(`${option} ${JSON.stringify(arg)}: no such file, and ${LINE_HINT}`);
    }
    return parseKeyLine(arg, `${option} "${arg.trim().slice(0, 30)}..."`, strict);
  }
  const label = `${option} ${arg}`;
  if (fs.statSync(arg).size > MAX_KEY_TEXT) refuse(`${label}: larger than any public key file; ${LINE_HINT}`);
  const text = fs.readFileSync(arg, 'utf8');
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) refuse(`${label}: this is a private key; give its public half (the .pub file)`);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) refuse(`${label}: empty; ${LINE_HINT}`);
  if (lines.length > 1) refuse(`${label}: holds ${lines.length} lines; give one public key at a time`);
  return parseKeyLine(lines[0]!, label, strict);
}

export function parseKeyLine(line: string, label: string, strict = true): AdminKey {
  const parsed = parsePublicKeyText(line);
  if ('error' in parsed) refuse(`${label}: ${LINE_HINT}: ${parsed.error}`);
  if (!strict) return { algo: parsed.algo, blob: parsed.blob, fingerprint: fingerprint(parsed.blob) };
  if (parsed.algo === 'ssh-dss') refuse(`${label}: DSA (ssh-dss) keys are refused at login, as OpenSSH >= 8.8 does; use ed25519, ECDSA or RSA`);
  const problem = keyDataProblem(parsed.blob, parsed.algo);
  if (problem) refuse(`${label}: ${problem}`);
  const fields = line.trim().split(/\s+/);
  const comment = fields.length > 2 ? fields.slice(2).join(' ') : undefined;
  return { algo: parsed.algo, blob: parsed.blob, fingerprint: fingerprint(parsed.blob), ...(comment ? { comment } : {}) };
}

/** Why ssh2 (what verifies logins) cannot use this key blob, or undefined. */
function keyDataProblem(blob: Buffer, algo: string): string | undefined {
  let key: unknown;
  try {
    const parsed = ssh2.utils.parseKey(blob);
    key = Array.isArray(parsed) ? parsed[0] : parsed;
  } catch {
    key = undefined; // ssh2 asserts on some malformed blobs
  }
  if (!key || key instanceof Error) return `the ${algo} key data is malformed or of a type the server cannot verify`;
  const type = (key as { type: string }).type;
  return type === algo ? undefined : `the key data is ${type}, not ${algo}`;
}

/** The key as a users file holds it: `<type> <base64> [comment]`. */
export function keyLine(key: AdminKey): string {
  return `${key.algo} ${key.blob.toString('base64')}${key.comment ? ` ${key.comment}` : ''}`;
}
