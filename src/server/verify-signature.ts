// Checks a public-key login request: the signature algorithm (at the key query already, so the
// client can fall back to another one) and, on the signed request, the signature. ssh2 leaves both
// to the server.
import ssh2 from 'ssh2';
import type { PublicKeyAuthContext } from 'ssh2';

/** null when the request's signature algorithm is acceptable, else why not (for the log). */
export function algorithmProblem(ctx: PublicKeyAuthContext): string | null {
  // ssh2 reports every RSA request as key algo "ssh-rsa" and sets hashAlgo only for rsa-sha2-256/512,
  // so an RSA request without hashAlgo is a SHA-1 "ssh-rsa" one: refused, as OpenSSH >= 8.8 does.
  if (ctx.key.algo === 'ssh-rsa' && !ctx.hashAlgo) return 'ssh-rsa (SHA-1) signature refused; use rsa-sha2-256/512 or another key type';
  return null;
}

/** null when the signature is good, else why it is not (for the log). */
export function signatureProblem(ctx: PublicKeyAuthContext): string | null {
  const algo = algorithmProblem(ctx);
  if (algo) return algo;
  const parsed = ssh2.utils.parseKey(ctx.key.data);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) return 'unparseable public key';
  if (!ctx.signature || !ctx.blob) return 'missing signature';
  const ok = key.verify(ctx.blob, ctx.signature, ctx.hashAlgo);
  if (ok !== true) return 'bad signature';
  return null;
}
