// Reads a public key as stores hold it: a bare base64 key blob (the middle field of an OpenSSH
// .pub line) or a whole `.pub` line `<algo> <base64> [comment]`. Anything else is refused with a
// reason, so hostile or mangled store data never reaches a key comparison.

export interface ParsedPublicKey {
  /** Key type named inside the blob, e.g. `ssh-ed25519`. */
  algo: string;
  /** The SSH wire-format key blob (what a client offers). */
  blob: Buffer;
}

/** Longer than any real public key line (an RSA-16384 .pub line is about 2.8 kB). */
export const MAX_KEY_TEXT = 16384;
/**
 * Larger than any real key blob (RSA-16384: about 2 kB). A client may offer a blob of up to ~33 KB
 * (ssh2's packet limit); stores refuse larger than this before comparing or looking it up.
 */
export const MAX_KEY_BLOB = 8192;

/** Why a key blob a client offered is not worth looking at, or undefined. */
export function offeredKeyProblem(blob: Buffer): string | undefined {
  return blob.length > MAX_KEY_BLOB ? `public key blob of ${blob.length} bytes, larger than any real key` : undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ALGO = /^[A-Za-z0-9@.+_-]{1,64}$/;

export function parsePublicKeyText(text: unknown): ParsedPublicKey | { error: string } {
  if (typeof text !== 'string') return { error: 'not a string' };
  const trimmed = text.trim();
  if (trimmed.length === 0) return { error: 'empty' };
  if (trimmed.length > MAX_KEY_TEXT) return { error: `too long (${trimmed.length} characters)` };
  const fields = trimmed.split(/\s+/);
  const [declared, b64] = fields.length === 1 ? [undefined, fields[0]!] : [fields[0]!, fields[1]!];
  if (!BASE64.test(b64) || b64.length % 4 !== 0) return { error: 'not a base64 key blob or an OpenSSH .pub line' };
  const blob = Buffer.from(b64, 'base64');
  // The blob starts with the key type as an SSH string: uint32 length, then the name.
  const n = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  if (n < 1 || n > 64 || 4 + n >= blob.length) return { error: 'not an SSH public key blob' };
  const algo = blob.toString('latin1', 4, 4 + n);
  if (!ALGO.test(algo)) return { error: 'not an SSH public key blob' };
  if (declared !== undefined && declared !== algo) {
    return { error: `key type ${JSON.stringify(declared.slice(0, 40))} does not match the key data (${algo})` };
  }
  return { algo, blob };
}
