// The solt_sftp schema (local mode's default store), unchanged:
//   solt.sftp.users              set of user ids
//   solt.sftp.user.<id>          hash name, folder (relative to sftp_path), active (true in any case, or 1)
//   solt.sftp.user.<id>.keys     set of base64 public key blobs
// and a pub/sub channel (default sftp_users) on which the admin side publishes a user id whenever
// that user is added, changed or deleted.
//
// Every user is held in memory and logins are answered from there. Pub/sub is fire-and-forget, so
// the whole set is read again after every reconnect and, at most once per interval, when someone
// logs in with a name we do not know (a missed "added" message).
//
// Outage choice: while Redis is unreachable, logins keep being decided from the in-memory copy,
// which is the last known state. A local-mode server serves its own disk, so it stays useful
// during an outage; the price is that a change made during the outage applies once Redis is back
// (the reconnect reload). Only before the very first successful load are logins refused
// (StoreUnavailableError): then there is no known state at all.
import { mkdir } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { constantTimeIncludes } from './constant-time.js';
import { describe } from './parse-route.js';
import { parsePublicKeyText } from './public-key-text.js';
import { ensureUserFolder, folderNameFor, folderNameProblem, type FolderResult } from './user-folder.js';
import { StoreUnavailableError, type AuthDecision, type ClientKey, type UserStore } from './user-store.js';

export const SOLT_USERS_KEY = 'solt.sftp.users';
export const SOLT_USER_PREFIX = 'solt.sftp.user.';
export const soltUserKey = (id: string): string => SOLT_USER_PREFIX + id;
export const soltKeysKey = (id: string): string => SOLT_USER_PREFIX + id + '.keys';

export interface RedisSoltOptions {
  /** Parent of the users' folders (config.sftpPath). */
  sftpPath: string;
  /** Pub/sub channel announcing changed user ids (config.redisChannel). */
  channel: string;
  /** At most one full re-read per this many ms for logins by unknown names (default 1000). */
  unknownUserRereadMs?: number;
  /** How long start() waits for Redis before giving up on the initial load (default 3000). */
  startWaitMs?: number;
  /** Delay before retrying a failed load while the connection looks up (default 2000). */
  retryMs?: number;
}

interface SoltUser {
  id: string;
  name: string;
  active: boolean;
  keys: Buffer[];
  /** Validated folder name relative to sftp_path; undefined: not assigned yet (done at first need). */
  folder: string | undefined;
  /** Bad data that refuses every login of this user (already logged). */
  problem: string | undefined;
}

interface RawUser {
  hash: Record<string, string> | Error;
  keys: string[] | Error;
  member: boolean;
}

/** Atomically: if the user still exists and has no folder yet, set it; answer the folder now stored (nil: user gone). */
const CLAIM_FOLDER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], 'folder', ARGV[1])
return redis.call('HGET', KEYS[1], 'folder')`;

const MAX_ID = 200;
const MAX_NAME = 256;
const CHUNK = 200;

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id.length > MAX_ID) return `is longer than ${MAX_ID} characters`;
  if (/[\x00-\x1f\x7f\uFFFD]/.test(id)) return 'contains control characters or invalid UTF-8';
  return undefined;
}

function nameProblem(name: string | undefined): string | undefined {
  if (name === undefined) return 'field "name" is missing';
  if (name.length === 0) return 'field "name" is empty';
  if (name.length > MAX_NAME) return `field "name" is longer than ${MAX_NAME} characters`;
  if (/[\x00-\x1f\x7f\uFFFD]/.test(name)) return `field "name" ${describe(name)} contains control characters or invalid UTF-8`;
  return undefined;
}

export class RedisSoltStore implements UserStore {
  readonly kind = 'redis-solt';

  private byId = new Map<string, SoltUser>();
  private byName = new Map<string, SoltUser[]>();
  /** Last problems logged per user id, so repeated reloads do not repeat the same warnings. */
  private reported = new Map<string, string>();
  private loaded = false;
  private closed = false;

  private sub: Redis | undefined;
  private startWaiting = true;
  private onSubscribedAtStart: (() => void) | undefined;
  private readonly onMainReady = (): void => void this.requestFull('redis reconnected');

  // The loader: one load at a time, requests coalesced (a full reload absorbs pending single ids).
  private fullWanted = false;
  private fullReason = '';
  private fullWaiters: Array<(ok: boolean) => void> = [];
  private pendingIds = new Set<string>();
  private draining = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failing = false;

  private unknownReread: Promise<boolean> | undefined;
  private lastUnknownReread = -Infinity;
  private ensuring = new Map<string, Promise<FolderResult>>();

  private readonly rereadMs: number;
  private readonly startWaitMs: number;
  private readonly retryMs: number;

  constructor(private readonly redis: Redis, private readonly opts: RedisSoltOptions, private readonly log: Logger) {
    this.rereadMs = opts.unknownUserRereadMs ?? 1000;
    this.startWaitMs = opts.startWaitMs ?? 3000;
    this.retryMs = opts.retryMs ?? 2000;
  }

  async start(): Promise<void> {
    try {
      await mkdir(this.opts.sftpPath, { recursive: true, mode: 0o755 });
    } catch (err) {
      this.log.error({ sftpPath: this.opts.sftpPath, err: (err as Error).message }, 'cannot create the sftp path: logins will fail');
    }
    // The subscription lives on its own connection (a subscribed connection can run nothing else).
    // We subscribe ourselves on every 'ready' and only then reload, so no change can fall between
    // the reload and the subscription.
    const sub = this.redis.duplicate({ autoResubscribe: false });
    this.sub = sub;
    const subscribed = new Promise<void>((resolve) => (this.onSubscribedAtStart = resolve));
    sub.on('error', (err: Error) => this.log.debug({ role: 'subscriber', err: err.message }, 'redis subscriber error'));
    sub.on('ready', () => void this.subscribe());
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.opts.channel) this.onMessage(message);
    });

    const mainReady = this.redis.status === 'ready' ? Promise.resolve() : new Promise<void>((r) => this.redis.once('ready', () => r()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([subscribed, mainReady]),
      new Promise<void>((r) => { timer = setTimeout(r, this.startWaitMs); }),
    ]);
    clearTimeout(timer);
    this.startWaiting = false;
    this.redis.on('ready', this.onMainReady);
    const ok = await this.requestFull('start');
    if (!ok) {
      this.log.error({ store: this.kind }, 'users not loaded: redis unavailable; logins are refused until it is back');
    }
  }

  async authorize(username: string, key: ClientKey): Promise<AuthDecision> {
    if (!this.loaded) throw new StoreUnavailableError('redis-solt: users not loaded yet (redis unavailable since start)');
    let candidates = this.byName.get(username);
    if (!candidates) {
      await this.rereadForUnknownName();
      candidates = this.byName.get(username);
      if (!candidates) return { ok: false, reason: 'unknown user' };
    }
    const matching = candidates.filter((u) => constantTimeIncludes(u.keys, key.data));
    if (matching.length === 0) return { ok: false, reason: 'public key not registered for this user' };
    if (matching.length > 1) {
      return { ok: false, reason: `ambiguous: ${matching.map((u) => soltUserKey(u.id)).join(', ')} share this name and key` };
    }
    const user = matching[0]!;
    if (!user.active) return { ok: false, reason: 'user inactive' };
    if (user.problem) return { ok: false, reason: user.problem };
    const folder = await this.ensureFolder(user);
    if ('error' in folder) return { ok: false, reason: folder.error };
    return { ok: true, user: { name: user.name, folder: folder.path } };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.redis.off('ready', this.onMainReady);
    this.sub?.disconnect();
    for (const w of this.fullWaiters.splice(0)) w(false);
    // The main connection is shared and closed by its owner (main.ts).
  }

  // --- subscription -----------------------------------------------------------------------

  private async subscribe(): Promise<void> {
    const sub = this.sub;
    if (!sub || this.closed) return;
    try {
      await sub.subscribe(this.opts.channel);
    } catch (err) {
      this.log.warn({ channel: this.opts.channel, err: (err as Error).message }, 'cannot subscribe to user changes: retrying');
      setTimeout(() => { if (sub.status === 'ready') void this.subscribe(); }, this.retryMs).unref();
      return;
    }
    this.log.debug({ channel: this.opts.channel }, 'subscribed to user changes');
    if (this.startWaiting) this.onSubscribedAtStart?.();
    // Messages published while we were not subscribed are lost: read everything again.
    else void this.requestFull('redis reconnected');
  }

  private onMessage(message: string): void {
    const problem = idProblem(message);
    if (problem) {
      this.log.warn({ channel: this.opts.channel, message: describe(message), problem }, 'ignored user-change message: not a user id');
      return;
    }
    this.pendingIds.add(message);
    this.kick();
  }

  // --- loading ----------------------------------------------------------------------------

  private requestFull(reason: string): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.fullWaiters.push(resolve);
      if (!this.fullWanted) this.fullReason = reason;
      this.fullWanted = true;
      this.kick();
    });
  }

  private kick(): void {
    if (!this.draining && !this.closed) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.closed && (this.fullWanted || this.pendingIds.size > 0)) {
        if (this.fullWanted) {
          const waiters = this.fullWaiters.splice(0);
          const reason = this.fullReason;
          this.fullWanted = false;
          this.pendingIds.clear(); // covered by the full load; later messages queue up again
          const ok = await this.loadAll(reason);
          for (const w of waiters) w(ok);
        } else {
          const ids = [...this.pendingIds];
          this.pendingIds.clear();
          await this.loadSome(ids);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private loadFailed(what: string, err: unknown): void {
    const fields = { store: this.kind, err: (err as Error).message };
    // Once per outage at warn; the connection logs the outage itself.
    if (!this.failing) this.log.warn(fields, `${what} failed: keeping the last known users, retrying`);
    else this.log.debug(fields, `${what} failed again`);
    this.failing = true;
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.requestFull('retry');
      }, this.retryMs);
      this.retryTimer.unref();
    }
  }

  private async loadAll(reason: string): Promise<boolean> {
    let raw: Map<string, RawUser>;
    try {
      const members = await this.redis.smembers(SOLT_USERS_KEY);
      const ids: string[] = [];
      for (const id of members) {
        const problem = idProblem(id);
        if (problem) this.report(`id:${id}`, { key: SOLT_USERS_KEY, member: describe(id), problem: `user id ${problem}` }, 'bad user id in redis: ignored');
        else ids.push(id);
      }
      const limit = pLimit(4);
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += CHUNK) chunks.push(ids.slice(i, i + CHUNK));
      const parts = await Promise.all(chunks.map((c) => limit(() => this.fetch(c, false))));
      raw = new Map(parts.flatMap((p) => [...p]));
    } catch (err) {
      this.loadFailed('loading users from redis', err);
      return false;
    }
    const byId = new Map<string, SoltUser>();
    for (const [id, r] of raw) {
      const user = this.parseUser(id, r);
      if (user) byId.set(id, user);
    }
    for (const id of this.reported.keys()) if (!id.startsWith('id:') && !raw.has(id)) this.reported.delete(id);
    this.byId = byId;
    this.rebuildNames();
    const notable = !this.loaded || this.failing || reason === 'redis reconnected';
    this.loaded = true;
    this.failing = false;
    const fields = { store: this.kind, users: byId.size, reason };
    if (notable) this.log.info(fields, 'users loaded');
    else this.log.debug(fields, 'users loaded');
    return true;
  }

  private async loadSome(ids: string[]): Promise<void> {
    let raw: Map<string, RawUser>;
    try {
      raw = await this.fetch(ids, true);
    } catch (err) {
      // The retry is a full reload, which covers these ids.
      this.loadFailed('reading changed users from redis', err);
      return;
    }
    for (const [id, r] of raw) {
      const before = this.byId.get(id);
      const user = this.parseUser(id, r);
      if (user) {
        this.byId.set(id, user);
        this.log.info({ id, user: user.name, active: user.active, keys: user.keys.length, folder: user.folder }, 'user updated');
        if (user.active && !user.problem) {
          // Give a new or changed user their folder now, as solt_sftp did, not only at first login.
          void this.ensureFolder(user);
        }
      } else if (before) {
        this.byId.delete(id);
        this.log.info({ id, user: before.name }, 'user removed');
      }
    }
    this.rebuildNames();
  }

  /** One pipeline for a batch of ids. Connection trouble throws; bad data (WRONGTYPE) is per user. */
  private async fetch(ids: string[], withMembership: boolean): Promise<Map<string, RawUser>> {
    const pipe = this.redis.pipeline();
    for (const id of ids) {
      pipe.hgetall(soltUserKey(id));
      pipe.smembers(soltKeysKey(id));
      if (withMembership) pipe.sismember(SOLT_USERS_KEY, id);
    }
    const results = await pipe.exec();
    if (!results) throw new Error('pipeline aborted');
    for (const [err] of results) if (err && !isReplyError(err)) throw err;
    const step = withMembership ? 3 : 2;
    const out = new Map<string, RawUser>();
    ids.forEach((id, i) => {
      const [hErr, hash] = results[i * step]!;
      const [kErr, keys] = results[i * step + 1]!;
      const member = withMembership ? results[i * step + 2]![1] === 1 : true;
      out.set(id, {
        hash: hErr ?? (hash as Record<string, string>),
        keys: kErr ?? (keys as string[]),
        member,
      });
    });
    if (withMembership) {
      const err = results.find(([e], i) => e && i % step === 2)?.[0];
      if (err) throw err; // SISMEMBER on a non-set: the users set itself is broken
    }
    return out;
  }

  /** The user as stored, or undefined when it does not exist (or cannot be used at all). */
  private parseUser(id: string, raw: RawUser): SoltUser | undefined {
    const notes: Array<{ key: string; problem: string; member?: string }> = [];
    const done = (user: SoltUser | undefined, msg: string): SoltUser | undefined => {
      const signature = JSON.stringify(notes);
      if (notes.length > 0 && this.reported.get(id) !== signature) {
        for (const n of notes) this.log.warn({ id, ...n }, msg);
      }
      if (notes.length > 0) this.reported.set(id, signature);
      else this.reported.delete(id);
      return user;
    };
    const hashKey = soltUserKey(id);
    if (raw.hash instanceof Error) {
      notes.push({ key: hashKey, problem: raw.hash.message });
      return done(undefined, 'bad user data in redis: user ignored');
    }
    if (Object.keys(raw.hash).length === 0) return done(undefined, ''); // deleted
    if (!raw.member) {
      notes.push({ key: hashKey, problem: `user hash exists but id is not in ${SOLT_USERS_KEY}` });
      return done(undefined, 'bad user data in redis: user ignored');
    }
    const hash = raw.hash;
    const badName = nameProblem(hash['name']);
    if (badName) {
      notes.push({ key: hashKey, problem: badName });
      return done(undefined, 'bad user data in redis: user ignored');
    }
    const user: SoltUser = {
      id,
      name: hash['name']!,
      active: /^(true|1)$/i.test((hash['active'] ?? '').trim()),
      keys: [],
      folder: undefined,
      problem: undefined,
    };
    if ('folder' in hash) {
      const problem = folderNameProblem(hash['folder']);
      if (problem) {
        user.problem = `bad folder in ${hashKey}: ${describe(hash['folder'])} ${problem}`;
        notes.push({ key: hashKey, problem: `field "folder" ${describe(hash['folder'])} ${problem}: logins refused` });
      } else {
        user.folder = hash['folder'];
      }
    }
    const keysKey = soltKeysKey(id);
    if (raw.keys instanceof Error) {
      notes.push({ key: keysKey, problem: `${raw.keys.message}: no key accepted` });
    } else {
      for (const member of raw.keys) {
        const parsed = parsePublicKeyText(member);
        if ('error' in parsed) notes.push({ key: keysKey, member: describe(member), problem: `public key ${parsed.error}: ignored` });
        else user.keys.push(parsed.blob);
      }
    }
    return done(user, 'bad user data in redis');
  }

  private rebuildNames(): void {
    const byName = new Map<string, SoltUser[]>();
    for (const u of this.byId.values()) {
      const list = byName.get(u.name);
      if (list) list.push(u);
      else byName.set(u.name, [u]);
    }
    this.byName = byName;
  }

  private report(id: string, fields: Record<string, unknown>, msg: string): void {
    const signature = JSON.stringify(fields);
    if (this.reported.get(id) === signature) return;
    this.reported.set(id, signature);
    this.log.warn(fields, msg);
  }

  /** A login by a name we do not know: maybe its "added" message was lost. Re-read all, rate-limited. */
  private async rereadForUnknownName(): Promise<void> {
    if (this.unknownReread) {
      await this.unknownReread;
      return;
    }
    const now = Date.now();
    if (now - this.lastUnknownReread < this.rereadMs) return;
    this.lastUnknownReread = now;
    this.unknownReread = this.requestFull('unknown user').finally(() => (this.unknownReread = undefined));
    await this.unknownReread;
  }

  // --- folders ----------------------------------------------------------------------------

  private ensureFolder(user: SoltUser): Promise<FolderResult> {
    let pending = this.ensuring.get(user.id);
    if (!pending) {
      pending = this.doEnsureFolder(user).finally(() => this.ensuring.delete(user.id));
      this.ensuring.set(user.id, pending);
    }
    return pending;
  }

  private async doEnsureFolder(user: SoltUser): Promise<FolderResult> {
    const hashKey = soltUserKey(user.id);
    let name = user.folder;
    if (name === undefined) {
      const taken = new Set<string>();
      for (const u of this.byId.values()) if (u.id !== user.id && u.folder !== undefined) taken.add(u.folder);
      name = folderNameFor(user.name, user.id, (n) => taken.has(n));
      try {
        const stored = await this.redis.eval(CLAIM_FOLDER, 1, hashKey, name);
        if (stored === null) return { error: `${hashKey} was deleted` };
        if (typeof stored === 'string' && stored !== name) {
          // Someone set a folder meanwhile: theirs wins.
          const problem = folderNameProblem(stored);
          if (problem) {
            this.log.warn({ key: hashKey, problem: `field "folder" ${describe(stored)} ${problem}` }, 'bad user data in redis');
            return { error: `bad folder in ${hashKey}: ${describe(stored)} ${problem}` };
          }
          name = stored;
        } else {
          this.log.info({ key: hashKey, user: user.name, folder: name }, 'user folder assigned (written back to redis)');
        }
      } catch (err) {
        // Serve it anyway; the hash gets it at the next login after the reconnect reload.
        this.log.warn({ key: hashKey, user: user.name, folder: name, err: (err as Error).message },
          'cannot write the user folder back to redis: serving it anyway');
      }
      user.folder = name;
    }
    const result = await ensureUserFolder(this.opts.sftpPath, name);
    if ('error' in result) {
      this.log.error({ key: hashKey, user: user.name, problem: result.error }, 'user folder unusable: logins refused');
      return { error: `${hashKey}: ${result.error}` };
    }
    if (result.created) this.log.info({ key: hashKey, user: user.name, folder: result.path }, 'user folder created');
    return result;
  }
}
