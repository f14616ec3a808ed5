// The algorithms this build of ssh2 can offer (ciphers depend on the OpenSSL Node links), so
// --ciphers and --kex can be checked at startup instead of failing at the first handshake.
import { createRequire } from 'node:module';

interface Ssh2Constants {
  DEFAULT_CIPHER: string[];
  SUPPORTED_CIPHER: string[];
  SUPPORTED_KEX: string[];
}

const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Ssh2Constants;

/** ssh2's own offer: AES-GCM, AES-CTR and chacha20-poly1305; no CBC. */
export const DEFAULT_CIPHERS: readonly string[] = Object.freeze([...constants.DEFAULT_CIPHER]);
export const SUPPORTED_CIPHERS: readonly string[] = Object.freeze([...constants.SUPPORTED_CIPHER]);

export const SUPPORTED_KEX: readonly string[] = Object.freeze([...constants.SUPPORTED_KEX]);
/**
 * Elliptic-curve exchanges only. ssh2 would also offer the finite-field groups, and a client that
 * asks for diffie-hellman-group18-sha512 costs ~16 ms of server CPU per handshake (64 a second
 * stall the event loop); curve25519 costs well under 1 ms. Every client we test speaks these.
 */
export const DEFAULT_KEX: readonly string[] = Object.freeze(SUPPORTED_KEX.filter((k) => k.startsWith('curve25519') || k.startsWith('ecdh-')));
