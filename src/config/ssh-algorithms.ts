// The ciphers this build of ssh2 can offer (they depend on the OpenSSL Node links), so the
// --ciphers option can be checked at startup instead of failing at the first handshake.
import { createRequire } from 'node:module';

interface Ssh2Constants {
  DEFAULT_CIPHER: string[];
  SUPPORTED_CIPHER: string[];
}

const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Ssh2Constants;

/** ssh2's own offer: AES-GCM, AES-CTR and chacha20-poly1305; no CBC. */
export const DEFAULT_CIPHERS: readonly string[] = Object.freeze([...constants.DEFAULT_CIPHER]);
export const SUPPORTED_CIPHERS: readonly string[] = Object.freeze([...constants.SUPPORTED_CIPHER]);
