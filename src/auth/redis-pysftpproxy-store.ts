// The original pysftpproxy schema, read live at every login:
//   pysftpproxy:pubkey:<base64 key blob>  -> user name (must equal the login name)
//   pysftpproxy:user:<name>               -> hash remote, port, user, home [, key, hostkey]
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { constantTimeEqual } from './constant-time.js';
import { parseRoute, type RouteDefaults } from './parse-route.js';
import { StoreUnavailableError, type AuthDecision, type ClientKey, type UserStore } from './user-store.js';

export const PUBKEY_PREFIX = 'pysftpproxy:pubkey:';
export const USER_PREFIX = 'pysftpproxy:user:';

export class RedisPysftpproxyStore implements UserStore {
  readonly kind = 'redis-pysftpproxy';

  constructor(private readonly redis: Redis, private readonly defaults: RouteDefaults, private readonly log: Logger) {}

  async start(): Promise<void> {
    // Nothing to preload: every login reads Redis, so changes apply to the next login.
  }

  async authorize(username: string, key: ClientKey): Promise<AuthDecision> {
    const keyName = PUBKEY_PREFIX + key.data.toString('base64');
    let results: Array<[Error | null, unknown]> | null;
    try {
      // One round trip: the route is fetched for the login name; it is only used if the key is theirs.
      results = await this.redis.multi().get(keyName).hgetall(USER_PREFIX + username).exec();
      if (!results) throw new Error('transaction aborted');
    } catch (err) {
      throw new StoreUnavailableError(`redis: ${(err as Error).message}`);
    }
    // A command's own error (WRONGTYPE: the key holds another type) is bad data, not an outage.
    const [[ownerErr, ownerValue], [routeErr, routeValue]] = results as [[Error | null, unknown], [Error | null, unknown]];
    for (const [err, name, want] of [[ownerErr, keyName, 'a string (the user name)'], [routeErr, USER_PREFIX + username, 'a hash']] as const) {
      if (!err) continue;
      this.log.warn({ user: username, key: name, problem: err.message }, 'bad data in redis');
      return { ok: false, reason: `bad data in ${name}: expected ${want} (${err.message.split(' ')[0]})` };
    }
    const owner = ownerValue as string | null;
    const fields = routeValue as Record<string, string>;
    if (owner === null) return { ok: false, reason: 'public key not registered' };
    if (!constantTimeEqual(owner, username)) return { ok: false, reason: 'public key belongs to another user' };
    if (Object.keys(fields).length === 0) return { ok: false, reason: `no route: ${USER_PREFIX}${username} is missing` };
    const route = parseRoute(fields, this.defaults);
    if ('error' in route) {
      this.log.warn({ user: username, key: USER_PREFIX + username, problem: route.error }, 'bad route data in redis');
      return { ok: false, reason: `bad route in ${USER_PREFIX}${username}: ${route.error}` };
    }
    return { ok: true, user: { name: username, route } };
  }

  async close(): Promise<void> {
    // The connection is shared and closed by its owner (main.ts).
  }
}
