// Checks the signature of a signed public-key login request. ssh2 leaves this to the server.
import ssh2 from 'ssh2';
import type { PublicKeyAuthContext } from 'ssh2';

/** null when the signature is good, else why it is not (for the log). */
export function signatureProblem(ctx: PublicKeyAuthContext): string | null {
  // SHA-1 RSA signatures ("ssh-rsa") are refused, as OpenSSH >= 8.8 does.
  if (ctx.hashAlgo === 'sha1') return 'ssh-rsa (SHA-1) signature refused; use rsa-sha2-256/512 or another key type';
  const parsed = ssh2.utils.parseKey(ctx.key.data);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) return 'unparseable public key';
  if (!ctx.signature || !ctx.blob) return 'missing signature';
  const ok = key.verify(ctx.blob, ctx.signature, ctx.hashAlgo);
  if (ok !== true) return 'bad signature';
  return null;
}
