// Users in the pysftpproxy schema (proxy mode):
//   pysftpproxy:pubkey:<base64 key blob>  -> user name
//   pysftpproxy:user:<name>               -> hash: route fields, permissions, active
// A user exists when their route hash does. Keys are found by scanning the pubkey keys (the schema
// has no index from a user to their keys; an admin command can afford the scan, a login never
// makes one). Every change publishes the user name on the change channel in the same transaction.
import type { Redis } from 'ioredis';
import { MAX_LOGIN_NAME } from '../auth/login-name.js';
import { parsePublicKeyText } from '../auth/public-key-text.js';
import { MAX_ROUTE_FIELD, PUBKEY_PREFIX, ROUTE_FIELDS, USER_PREFIX, routeActive, type RouteField } from '../auth/redis-pysftpproxy-store.js';
import { describe } from '../auth/parse-route.js';
import { fingerprint } from '../keys/fingerprint.js';
import { refuse } from './admin-error.js';
import type { AdminKey } from './key-argument.js';
import { keyAlreadyHeld, keyTaken, nameTaken } from './refusals.js';
import { redisCall, throwFirstError, watched } from './redis-transaction.js';
import { ROUTE_NAMES, type ChangeResult, type NewUser, type RouteFields, type UserChanges, type UserRecord } from './user-record.js';
import type { UserWriter } from './user-writer.js';

const SCAN_COUNT = 1000;
const PIPELINE_CHUNK = 1000;

interface StoredKey {
  keyName: string;
  owner: string;
}

export class RedisPysftpproxyWriter implements UserWriter {
  readonly ids = false;
  readonly kinds = ['route'] as const;
  readonly description: string;

  constructor(private readonly redis: Redis, private readonly channel: string, private readonly address: string) {
    this.description = `redis ${address} (pysftpproxy schema)`;
  }

  defaultFolder(): undefined {
    return undefined; // routes only
  }

  list(): Promise<UserRecord[]> {
    return this.call(async () => {
      const names = (await this.scan(USER_PREFIX + '*')).map((k) => k.slice(USER_PREFIX.length));
      const keys = await this.storedKeys();
      const users: UserRecord[] = [];
      for (const name of names.sort()) {
        const user = await this.read(name, keys);
        if (user) users.push(user);
      }
      return users;
    });
  }

  find(name: string): Promise<UserRecord | undefined> {
    return this.call(async () => this.read(name, await this.storedKeys(name)));
  }

  add(u: NewUser): Promise<ChangeResult> {
    const userKey = USER_PREFIX + u.name;
    const keyNames = u.keys.map((k) => PUBKEY_PREFIX + k.blob.toString('base64'));
    return this.change(u.name, [userKey, ...keyNames], async () => {
      if (await this.exists(userKey)) nameTaken(u.name, userKey);
      const leftover = await this.storedKeys(u.name);
      if (leftover.length > 0) {
        refuse(`${leftover.length} key(s) in redis still name user ${JSON.stringify(u.name)}, who has no route (${leftover[0]!.keyName.slice(0, 60)}...): ` +
          `\`pysftpproxy users remove ${u.name}\` clears them, then add the user again`);
      }
      for (const [i, k] of u.keys.entries()) {
        const owner = await this.owner(keyNames[i]!);
        if (owner !== '') keyTaken(k.fingerprint, owner);
      }
      const fields: Record<string, string> = { ...u.route };
      if (u.permissions !== undefined) fields['permissions'] = u.permissions;
      const m = this.redis.multi().hset(userKey, fields);
      for (const k of keyNames) m.set(k, u.name);
      return m;
    });
  }

  update(user: UserRecord, changes: UserChanges): Promise<ChangeResult> {
    const userKey = USER_PREFIX + user.name;
    return this.change(user.name, [userKey], async () => {
      await this.mustExist(user.name);
      const set: Record<string, string> = {};
      const unset: string[] = [];
      const put = (field: string, value: string | null | undefined): void => {
        if (value === undefined) return;
        if (value === null) unset.push(field);
        else set[field] = value;
      };
      for (const f of ROUTE_NAMES) put(f, changes.route?.[f]);
      put('permissions', changes.permissions);
      const m = this.redis.multi();
      if (Object.keys(set).length > 0) m.hset(userKey, set);
      if (unset.length > 0) m.hdel(userKey, ...unset);
      return m;
    });
  }

  setActive(user: UserRecord, active: boolean): Promise<ChangeResult> {
    const userKey = USER_PREFIX + user.name;
    return this.change(user.name, [userKey], async () => {
      await this.mustExist(user.name);
      // Enabled is the field's absence, the state of every user from before the field existed.
      return active ? this.redis.multi().hdel(userKey, 'active') : this.redis.multi().hset(userKey, 'active', 'false');
    });
  }

  remove(user: UserRecord): Promise<ChangeResult> {
    const userKey = USER_PREFIX + user.name;
    return this.call(async () => {
      const keyNames = (await this.storedKeys(user.name)).map((k) => k.keyName);
      return this.change(user.name, [userKey, ...keyNames], async () => {
        for (const k of keyNames) if ((await this.owner(k)) !== user.name) return refuse(`${k.slice(0, 60)}... changed owner meanwhile; run it again`);
        return this.redis.multi().del(userKey, ...keyNames);
      });
    });
  }

  addKey(user: UserRecord, key: AdminKey): Promise<ChangeResult> {
    const userKey = USER_PREFIX + user.name;
    const keyName = PUBKEY_PREFIX + key.blob.toString('base64');
    return this.change(user.name, [userKey, keyName], async () => {
      await this.mustExist(user.name);
      const owner = await this.owner(keyName);
      if (owner === user.name) keyAlreadyHeld(key.fingerprint, user.name);
      if (owner !== '') keyTaken(key.fingerprint, owner);
      return this.redis.multi().set(keyName, user.name);
    });
  }

  removeKey(user: UserRecord, key: AdminKey): Promise<ChangeResult> {
    const keyName = PUBKEY_PREFIX + key.blob.toString('base64');
    return this.change(user.name, [keyName], async () => {
      if ((await this.owner(keyName)) !== user.name) refuse(`user ${JSON.stringify(user.name)} has no key ${key.fingerprint}`);
      return this.redis.multi().del(keyName);
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  // --- helpers ----------------------------------------------------------------------------

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return redisCall(this.address, fn);
  }

  /** One checked transaction that ends with the change notice. */
  private change(name: string, watch: string[], attempt: () => Promise<ReturnType<Redis['multi']>>): Promise<ChangeResult> {
    return this.call(async () => {
      throwFirstError(await watched(this.redis, watch, async () => (await attempt()).publish(this.channel, name)));
      return { notice: { channel: this.channel, message: name }, notes: [] };
    });
  }

  private async scan(pattern: string): Promise<string[]> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      for (const k of keys) found.add(k);
    } while (cursor !== '0');
    return [...found];
  }

  /** Every pubkey key and its owner (read bounded), or only those owned by `name`. */
  private async storedKeys(name?: string): Promise<StoredKey[]> {
    const keyNames = await this.scan(PUBKEY_PREFIX + '*');
    const out: StoredKey[] = [];
    for (let i = 0; i < keyNames.length; i += PIPELINE_CHUNK) {
      const chunk = keyNames.slice(i, i + PIPELINE_CHUNK);
      const p = this.redis.pipeline();
      for (const k of chunk) p.getrange(k, 0, MAX_LOGIN_NAME);
      const results = (await p.exec()) ?? [];
      chunk.forEach((keyName, j) => {
        const [err, owner] = results[j] ?? [null, ''];
        if (err) return; // not a string: no login reads it as a key either
        if (name === undefined || owner === name) out.push({ keyName, owner: String(owner) });
      });
    }
    return out;
  }

  private async owner(keyName: string): Promise<string> {
    try {
      return await this.redis.getrange(keyName, 0, MAX_LOGIN_NAME);
    } catch (err) {
      return refuse(`${keyName.slice(0, 60)}... holds bad data (${(err as Error).message.split(' ')[0]}); fix or delete it first`);
    }
  }

  private async exists(userKey: string): Promise<boolean> {
    const type = await this.redis.type(userKey);
    if (type !== 'none' && type !== 'hash') refuse(`${userKey} holds a ${type}, not a hash: fix or delete it first`);
    return type === 'hash';
  }

  private async mustExist(name: string): Promise<void> {
    if (!(await this.exists(USER_PREFIX + name))) refuse(`no user ${JSON.stringify(name)} in ${this.description} (removed meanwhile?)`);
  }

  /** The user as stored, or undefined without a route hash. Oversized fields are named, not read. */
  private async read(name: string, keys: StoredKey[]): Promise<UserRecord | undefined> {
    const userKey = USER_PREFIX + name;
    const problems: string[] = [];
    const type = await this.redis.type(userKey);
    if (type === 'none') {
      // Keys left behind by a route deleted by hand: shown, so `users remove` can clear them.
      const orphans = keys.filter((k) => k.owner === name);
      if (orphans.length === 0) return undefined;
      problems.push(`${userKey} is missing: ${orphans.length} key(s) still name this user, no login gets through`);
      return { name, active: false, keys: this.adminKeys(orphans, problems), kind: 'route', route: {}, location: userKey, problems };
    }
    if (type !== 'hash') {
      problems.push(`${userKey} holds a ${type}, not a hash`);
      return { name, active: false, keys: [], kind: 'route', route: {}, location: userKey, problems };
    }
    const p = this.redis.pipeline();
    for (const f of ROUTE_FIELDS) p.hstrlen(userKey, f);
    const lengths = ((await p.exec()) ?? []).map(([, n]) => Number(n));
    const readable = ROUTE_FIELDS.filter((f, i) => {
      if (lengths[i]! <= MAX_ROUTE_FIELD) return true;
      problems.push(`field "${f}" is ${lengths[i]} bytes long (not read; logins refused)`);
      return false;
    });
    const values = readable.length > 0 ? await this.redis.hmget(userKey, ...readable) : [];
    const fields: Partial<Record<RouteField, string>> = {};
    readable.forEach((f, i) => { if (values[i] !== null && values[i] !== undefined) fields[f] = values[i]!; });
    const route: RouteFields = {};
    for (const f of ROUTE_NAMES) if (fields[f] !== undefined) route[f] = fields[f];
    return {
      name,
      active: routeActive(fields.active),
      keys: this.adminKeys(keys.filter((k) => k.owner === name), problems),
      kind: 'route',
      route,
      ...(fields.permissions !== undefined ? { permissions: fields.permissions } : {}),
      location: userKey,
      problems,
    };
  }

  private adminKeys(keys: StoredKey[], problems: string[]): AdminKey[] {
    const out: AdminKey[] = [];
    for (const k of keys) {
      const parsed = parsePublicKeyText(k.keyName.slice(PUBKEY_PREFIX.length));
      if ('error' in parsed) problems.push(`${describe(k.keyName)}: ${parsed.error}`);
      else out.push({ algo: parsed.algo, blob: parsed.blob, fingerprint: fingerprint(parsed.blob) });
    }
    return out;
  }
}
