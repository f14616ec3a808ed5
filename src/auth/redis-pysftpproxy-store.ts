// The original pysftpproxy schema, read live at every login (every read bounded in size):
//   pysftpproxy:pubkey:<base64 key blob>  -> user name (must equal the login name)
//   pysftpproxy:user:<name>               -> hash remote, port, user, home [, key, hostkey, permissions, active]
// A route without `active` is active (users from before the field existed keep working); with it,
// only `true` (any case) or `1` is, as in the solt schema: anything else disables the user.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { constantTimeEqual } from './constant-time.js';
import { loginNameProblem, MAX_LOGIN_NAME } from './login-name.js';
import { parseStoredPermissions } from '../policy/permissions.js';
import { describe, parseRoute, type RouteDefaults } from './parse-route.js';
import { offeredKeyProblem } from './public-key-text.js';
import { StoreUnavailableError, type AuthDecision, type ClientKey, type UserChange, type UserStore } from './user-store.js';

export const PUBKEY_PREFIX = 'pysftpproxy:pubkey:';
export const USER_PREFIX = 'pysftpproxy:user:';

/** Longest route field read; longer ones are refused by their length, unread. */
export const MAX_ROUTE_FIELD = 4096;
/** The fields of a route hash the store reads (the admin CLI writes the same ones). */
export const ROUTE_FIELDS = ['remote', 'port', 'user', 'home', 'key', 'hostkey', 'permissions', 'active'] as const;
export type RouteField = (typeof ROUTE_FIELDS)[number];

/** Whether a route hash's `active` field (undefined: absent) lets the user in. */
export function routeActive(value: string | undefined): boolean {
  return value === undefined || /^(true|1)$/i.test(value.trim());
}

type Reply = [Error | null, unknown];

export class RedisPysftpproxyStore implements UserStore {
  readonly kind = 'redis-pysftpproxy';

  private sub: Redis | undefined;
  private readonly listeners: Array<(c: UserChange) => void> = [];

  /** `channel`: where `pysftpproxy users|keys` publish the names of changed users. */
  constructor(private readonly redis: Redis, private readonly defaults: RouteDefaults, private readonly log: Logger,
      private readonly channel?: string) {}

  async start(): Promise<void> {
    // Nothing to preload: every login reads Redis, so changes apply to the next login. Live
    // sessions hear of changes on the channel, to be checked again (revocation).
    if (!this.channel) return;
    const sub = this.redis.duplicate({ autoResubscribe: false });
    this.sub = sub;
    let subscribedOnce = false;
    sub.on('error', (err: Error) => this.log.debug({ role: 'subscriber', err: err.message }, 'redis subscriber error'));
    sub.on('ready', () => {
      sub.subscribe(this.channel!).then(() => {
        // Messages published while we were away are lost: every live session is checked.
        if (subscribedOnce) this.changed({ kind: 'all', reason: 'reconnect' });
        subscribedOnce = true;
      }, (err: Error) => this.log.warn({ channel: this.channel, err: err.message }, 'cannot subscribe to user changes'));
    });
    sub.on('message', (ch: string, message: string) => {
      if (ch !== this.channel) return;
      if (loginNameProblem(message)) return void this.log.debug({ channel: ch }, 'ignored user-change message: not a user name');
      this.changed({ kind: 'users', names: [message] });
    });
  }

  onChange(listener: (c: UserChange) => void): void {
    this.listeners.push(listener);
  }

  private changed(c: UserChange): void {
    for (const l of this.listeners) l(c);
  }

  async authorize(username: string, key: ClientKey): Promise<AuthDecision> {
    // Both become Redis key names: bounded before they get there.
    const badName = loginNameProblem(username);
    if (badName) return { ok: false, code: 'unknown-user', reason: `unknown user: the name ${badName}` };
    const badKey = offeredKeyProblem(key.data);
    if (badKey) return { ok: false, code: 'unknown-key', reason: badKey };
    const keyName = PUBKEY_PREFIX + key.data.toString('base64');
    const userKey = USER_PREFIX + username;

    // Sizes first and the owner bounded (GETRANGE), so a 100 MB value is never read; the route
    // itself only once the key is this user's.
    const probe = this.redis.multi().getrange(keyName, 0, MAX_LOGIN_NAME).hlen(userKey);
    for (const f of ROUTE_FIELDS) probe.hstrlen(userKey, f);
    const sizes = await this.exec(probe);
    // A command's own error (WRONGTYPE: the key holds another type) is bad data, not an outage.
    const [[ownerErr, ownerValue], [routeErr, fieldCount]] = sizes as [Reply, Reply];
    for (const [err, name, want] of [[ownerErr, keyName, 'a string (the user name)'], [routeErr, userKey, 'a hash']] as const) {
      if (!err) continue;
      this.log.warn({ user: username, key: name, problem: err.message }, 'bad data in redis');
      return { ok: false, code: 'bad-data', reason: `bad data in ${name}: expected ${want} (${err.message.split(' ')[0]})` };
    }
    const owner = ownerValue as string;
    if (owner === '') return { ok: false, code: 'unknown-key', reason: 'public key not registered' };
    if (!constantTimeEqual(owner, username)) return { ok: false, code: 'wrong-key', reason: 'public key belongs to another user' };
    if (fieldCount === 0) return { ok: false, code: 'bad-data', reason: `no route: ${userKey} is missing` };
    const tooLong = ROUTE_FIELDS.find((_, i) => (sizes[2 + i]![1] as number) > MAX_ROUTE_FIELD);
    if (tooLong) {
      const problem = `field "${tooLong}" is ${sizes[2 + ROUTE_FIELDS.indexOf(tooLong)]![1] as number} bytes long`;
      this.log.warn({ user: username, key: userKey, problem }, 'bad route data in redis');
      return { ok: false, code: 'bad-data', reason: `bad route in ${userKey}: ${problem}` };
    }

    const [[valuesErr, values]] = (await this.exec(this.redis.multi().hmget(userKey, ...ROUTE_FIELDS))) as [Reply];
    if (valuesErr) return { ok: false, code: 'bad-data', reason: `bad data in ${userKey}: ${valuesErr.message.split(' ')[0]}` };
    const fields: Record<string, string> = {};
    ROUTE_FIELDS.forEach((f, i) => {
      const v = (values as Array<string | null>)[i];
      if (v !== null && v !== undefined) fields[f] = v;
    });
    // Before the route: a disabled user is refused as such, whatever else their hash holds.
    if (!routeActive(fields['active'])) return { ok: false, code: 'inactive', reason: `user disabled (${userKey} field "active" ${describe(fields['active'])})` };
    const route = parseRoute(fields, this.defaults);
    if ('error' in route) {
      this.log.warn({ user: username, key: userKey, problem: route.error }, 'bad route data in redis');
      return { ok: false, code: 'bad-data', reason: `bad route in ${userKey}: ${route.error}` };
    }
    const permissions = parseStoredPermissions(fields['permissions']);
    if (!permissions.ok) {
      this.log.warn({ user: username, key: userKey, field: 'permissions', word: permissions.word, problem: permissions.problem }, 'bad route data in redis');
      return { ok: false, code: 'bad-data', reason: `bad permissions in ${userKey}: ${JSON.stringify(permissions.word)} ${permissions.problem}` };
    }
    return { ok: true, user: { name: username, target: { kind: 'upstream', route }, policy: { permissions: permissions.permissions } } };
  }

  async close(): Promise<void> {
    this.sub?.disconnect();
    // The main connection is shared and closed by its owner (main.ts).
  }

  private async exec(m: ReturnType<Redis['multi']>): Promise<Reply[]> {
    try {
      const results = await m.exec();
      if (!results) throw new Error('transaction aborted');
      return results as Reply[];
    } catch (err) {
      throw new StoreUnavailableError(`redis: ${(err as Error).message}`);
    }
  }
}
