// patches/ssh2+<version>.patch is applied by npm's postinstall (patch-package). An install with
// --ignore-scripts, or an ssh2 upgraded past the patch, runs unpatched: RSA logins by clients that
// use rsa-sha2-512 (asyncssh, rclone, OpenSSH told to) fail, uploads over a distant link lose a
// third (late window credit, a 2 MiB window), and a client that ignores the channel window can
// make the server buffer without bound. Say so at startup instead.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const MARKER = 'pysftpproxy patch';

/** Files of ssh2 the patch changes that do not carry its marker (empty: patched). */
export function unpatchedSsh2Files(): string[] {
  const root = dirname(dirname(createRequire(import.meta.url).resolve('ssh2')));
  return ['lib/protocol/Protocol.js', 'lib/protocol/crypto.js', 'lib/server.js', 'lib/client.js', 'lib/Channel.js'].filter((f) => {
    try {
      return !readFileSync(join(root, f), 'utf8').includes(MARKER);
    } catch {
      return true;
    }
  });
}
