// Decides whether an upstream's host key is the one we expect, by the configured policy:
//   tofu   - the route's pinned `hostkey` if set, else the first key seen for host:port is pinned in
//            Redis (pysftpproxy:hostkey:<host>:<port>) and later keys must match it;
//   strict - only keys in the known_hosts file or the route's pinned `hostkey`;
//   off    - anything (warned about at startup).
import type { Redis } from 'ioredis';
import type { HostKeyPolicy } from '../config/options.js';
import { fingerprint } from '../keys/fingerprint.js';
import { constantTimeEqual } from '../auth/constant-time.js';
import type { Route } from '../auth/user-store.js';
import { knownKeysFor } from './known-hosts.js';

export const HOSTKEY_PREFIX = 'pysftpproxy:hostkey:';

const PIN_SCRIPT = `local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return false`;

export type HostKeyVerdict = { ok: true; pinnedNow?: boolean } | { ok: false; reason: string };

export class HostKeyVerifier {
  constructor(private readonly policy: HostKeyPolicy, private readonly redis: Redis | undefined,
    private readonly knownHostsFile: string | undefined) {}

  async verify(route: Route, blob: Buffer): Promise<HostKeyVerdict> {
    const seen = fingerprint(blob);
    if (this.policy === 'off') return { ok: true };
    if (route.hostKey) {
      return constantTimeEqual(route.hostKey, seen) ? { ok: true }
        : { ok: false, reason: `host key ${seen} does not match the route's pinned hostkey ${route.hostKey}` };
    }
    if (this.policy === 'strict') {
      if (!this.knownHostsFile) return { ok: false, reason: 'strict host key policy: no --known-hosts file and no pinned hostkey in the route' };
      const known = knownKeysFor(this.knownHostsFile, route.host, route.port);
      if (known.some((k) => k.revoked && k.blob.equals(blob))) return { ok: false, reason: `host key ${seen} is marked @revoked` };
      if (known.some((k) => !k.revoked && k.blob.equals(blob))) return { ok: true };
      return { ok: false, reason: `host key ${seen} is not in ${this.knownHostsFile}` };
    }
    if (!this.redis) return { ok: false, reason: 'tofu host key policy needs redis' };
    const name = `${HOSTKEY_PREFIX}${route.host}:${route.port}`;
    let pinned: string | null;
    try {
      // Pins atomically and returns what was there, so two first logins cannot disagree
      // (a script rather than SET NX GET, which needs Redis >= 7).
      pinned = await this.redis.eval(PIN_SCRIPT, 1, name, seen) as string | null;
    } catch (err) {
      return { ok: false, reason: `cannot check the pinned host key: redis: ${(err as Error).message}` };
    }
    if (pinned === null) return { ok: true, pinnedNow: true };
    return constantTimeEqual(pinned, seen) ? { ok: true }
      : { ok: false, reason: `host key changed: pinned ${pinned}, offered ${seen} (delete ${name} if the change is expected)` };
  }
}
