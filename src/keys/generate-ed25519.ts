// A new ed25519 key pair in OpenSSH format (the generated host key, the demo's user key).
import ssh2 from 'ssh2';

/**
 * ssh2 1.17's generateKeyPairSync('ed25519') writes a 31-byte public key (a leading zero byte
 * dropped) about once in 250 keys, which its own parser and OpenSSH then reject as malformed.
 * Such a pair is thrown away and another drawn: only one that ssh2 reads back is returned.
 */
export function generateEd25519(comment?: string, attempts = 16): { private: string; public: string } {
  for (let i = 0; i < attempts; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment === undefined ? undefined : { comment });
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error(`ssh2 produced ${attempts} unreadable ed25519 keys in a row`);
}
