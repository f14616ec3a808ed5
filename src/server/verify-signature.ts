// Checks a public-key login request: the key and signature algorithm (at the key query already,
// so the client can fall back to another one) and, on the signed request, the signature. ssh2
// leaves both to the server.
import { createPublicKey } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey, PublicKeyAuthContext } from 'ssh2';

type Checked = { key: ParsedKey; problem?: undefined } | { key?: undefined; problem: string };

/**
 * The client's key blob as ssh2 reads it, or undefined. ssh2's parser throws (an assertion)
 * rather than returning an error for some malformed blobs, an RSA key with an empty modulus
 * say: that must refuse the request, not escape as an exception.
 */
function parseClientKey(blob: Buffer): ParsedKey | undefined {
  try {
    const parsed = ssh2.utils.parseKey(blob);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    return key && !(key instanceof Error) ? key : undefined;
  } catch {
    return undefined;
  }
}

function checkAlgorithm(ctx: PublicKeyAuthContext): Checked {
  const key = parseClientKey(ctx.key.data);
  if (!key) return { problem: 'unparseable public key' };
  // The request names its algorithm; ssh2 verifies with the key's own type, so a request naming
  // ssh-ed25519 over an RSA key would otherwise be checked as a SHA-1 RSA signature.
  if (key.type !== ctx.key.algo) return { problem: `key algorithm mismatch: the request says ${ctx.key.algo}, the key is ${key.type}` };
  // DSA signs with SHA-1 and 1024-bit keys only; OpenSSH has refused it by default since 7.0.
  if (key.type === 'ssh-dss') return { problem: 'ssh-dss (DSA) keys refused; use ed25519, ECDSA or RSA' };
  // ssh2 sets hashAlgo only for rsa-sha2-256/512, so an RSA key without it is a SHA-1 "ssh-rsa"
  // request: refused, as OpenSSH >= 8.8 does.
  if (key.type === 'ssh-rsa' && !ctx.hashAlgo) return { problem: 'ssh-rsa (SHA-1) signature refused; use rsa-sha2-256/512 or another key type' };
  return { key };
}

/** null when the request's key and signature algorithm are acceptable, else why not (for the log). */
export function algorithmProblem(ctx: PublicKeyAuthContext): string | null {
  return checkAlgorithm(ctx).problem ?? null;
}

/** null when the signature is good, else why it is not (for the log). */
export function signatureProblem(ctx: PublicKeyAuthContext): string | null {
  const { key, problem } = checkAlgorithm(ctx);
  if (!key) return problem;
  if (!ctx.signature || !ctx.blob) return 'missing signature';
  try {
    const signature = key.type === 'ssh-rsa' ? padRsaSignature(key, ctx.signature) : ctx.signature;
    return key.verify(ctx.blob, signature, ctx.hashAlgo) === true ? null : 'bad signature';
  } catch {
    return 'bad signature'; // a key OpenSSL cannot load (absurd RSA exponent, a point off the curve...)
  }
}

/**
 * PuTTY (psftp, FileZilla) drops leading zero bytes of an RSA signature, about once in 256
 * logins; OpenSSL wants exactly the modulus length. OpenSSH's sshd pads such a signature back,
 * and so do we.
 */
function padRsaSignature(key: ParsedKey, signature: Buffer): Buffer {
  const bits = createPublicKey(key.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
  const length = Math.ceil(bits / 8);
  if (signature.length >= length) return signature;
  return Buffer.concat([Buffer.alloc(length - signature.length), signature]);
}
