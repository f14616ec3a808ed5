// ssh2 falls back to pure-JS crypto, silently, when its native binding did not build at install;
// that halves throughput, so we say so loudly at startup.
import { createRequire } from 'node:module';

export function nativeCryptoAvailable(): boolean {
  const require = createRequire(import.meta.url);
  try {
    return Boolean((require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable);
  } catch {
    return false;
  }
}
