// The solt_sftp schema (local mode's default store), unchanged:
//   solt.sftp.users              set of user ids
//   solt.sftp.user.<id>          hash name, folder (relative to sftp_path), active (true in any case, or 1)
//   solt.sftp.user.<id>.keys     set of base64 public key blobs
// and a pub/sub channel (default sftp_users) on which the admin side publishes a user id whenever
// that user is added, changed or deleted. One key is added: solt.sftp.folders, the registry
// through which folders are claimed so that no two users share one (solt-folder-claim.ts).
//
// Every user is held in memory and logins are answered from there. Pub/sub is fire-and-forget, so
// the whole set is read again after every reconnect. A login by a name we do not know may be a
// missed "added" message: then the ids in solt.sftp.users are compared with the ones we know and
// only the new (or vanished) ids are read, at most once per name per 30 s and once per second in
// all, so invented names cost one SMEMBERS a second, not a reload of every user.
//
// Outage choice: while Redis is unreachable, logins keep being decided from the in-memory copy,
// which is the last known state. A local-mode server serves its own disk, so it stays useful
// during an outage; the price is that a change made during the outage applies once Redis is back
// (the reconnect reload). Only before the very first successful load are logins refused
// (StoreUnavailableError): then there is no known state at all. No folder is handed out that
// could not be claimed: a user who has none yet is refused until Redis is back.
import { mkdir } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { constantTimeIncludes } from './constant-time.js';
import { loginNameProblem } from './login-name.js';
import { describe } from './parse-route.js';
import { offeredKeyProblem } from './public-key-text.js';
import { fetchSoltUsers, type RawUser } from './solt-fetch-users.js';
import { SOLT_USERS_KEY, SOLT_USER_PREFIX, soltKeysKey, soltUserKey } from './solt-keys.js';
import { parseSoltUser, type SoltUser } from './solt-parse-user.js';
import { claimSoltFolder, SOLT_FOLDERS_KEY } from './solt-folder-claim.js';
import { ensureUserFolder, folderNameCandidates, folderNameProblem, type FolderResult } from './user-folder.js';
import { UnknownNameRereads } from './unknown-name-rereads.js';
import { StoreUnavailableError, type AuthDecision, type ClientKey, type UserChange, type UserStore } from './user-store.js';

// Re-exported: this module is where the schema is described.
export { SOLT_FOLDERS_KEY, SOLT_USERS_KEY, SOLT_USER_PREFIX, soltKeysKey, soltUserKey };

export interface RedisSoltOptions {
  /** Parent of the users' folders (config.sftpPath). */
  sftpPath: string;
  /** Pub/sub channel announcing changed user ids (config.redisChannel). */
  channel: string;
  /** At most one re-read of the user ids per this many ms for logins by unknown names (default 1000). */
  unknownUserRereadMs?: number;
  /** At most one such re-read per name per this many ms (default 30000). */
  perNameRereadMs?: number;
  /** How long start() waits for Redis before giving up on the initial load (default 3000). */
  startWaitMs?: number;
  /** Delay before retrying a failed load while the connection looks up (default 2000). */
  retryMs?: number;
}

const MAX_ID = 200;
const CHUNK = 200;
/** More ids announced while a load runs than this: read everything instead. */
const MAX_PENDING_IDS = 1000;
/** Names remembered for the per-name re-read limit (at most MAX_LOGIN_NAME characters each). */
const MAX_RECENT_NAMES = 10_000;
/** A login by an unknown name waits for the next re-read if it starts within this long. */
const MAX_REREAD_WAIT_MS = 1000;

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/** Why `id` cannot be a solt user id, or undefined (the admin CLI checks ids it is given with this too). */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id.length > MAX_ID) return `is longer than ${MAX_ID} characters`;
  if (/[\x00-\x1f\x7f\uFFFD]/.test(id)) return 'contains control characters or invalid UTF-8';
  return undefined;
}

export class RedisSoltStore implements UserStore {
  readonly kind = 'redis-solt';

  private byId = new Map<string, SoltUser>();
  private byName = new Map<string, SoltUser[]>();
  /** Ids in solt.sftp.users whose data is unusable or missing: not read again for unknown names. */
  private ignored = new Set<string>();
  /** Last problems logged per user id, so repeated reloads do not repeat the same warnings. */
  private reported = new Map<string, string>();
  /** Last folder conflict logged per user id. */
  private folderReported = new Map<string, string>();
  private loaded = false;
  private closed = false;

  private sub: Redis | undefined;
  private startWaiting = true;
  private onSubscribedAtStart: (() => void) | undefined;
  private readonly onMainReady = (): void => void this.requestFull('redis reconnected');

  // The loader: one load at a time, requests coalesced (a full reload absorbs the others).
  private fullWanted = false;
  private fullReason = '';
  private fullWaiters: Array<(ok: boolean) => void> = [];
  private newIdsWanted = false;
  private newIdsWaiters: Array<(ok: boolean) => void> = [];
  private pendingIds = new Set<string>();
  private draining = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failing = false;

  private readonly unknownNames: UnknownNameRereads;
  private ensuring = new Map<string, Promise<FolderResult>>();

  private readonly startWaitMs: number;
  private readonly retryMs: number;

  constructor(private readonly redis: Redis, private readonly opts: RedisSoltOptions, private readonly log: Logger) {
    this.startWaitMs = opts.startWaitMs ?? 3000;
    this.retryMs = opts.retryMs ?? 2000;
    this.unknownNames = new UnknownNameRereads(() => this.requestNewIds(), {
      intervalMs: opts.unknownUserRereadMs ?? 1000,
      perNameMs: opts.perNameRereadMs ?? 30_000,
      maxNames: MAX_RECENT_NAMES,
      maxWaitMs: MAX_REREAD_WAIT_MS,
    });
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
      // No user can have such a name: no re-read, nothing remembered.
      const bad = loginNameProblem(username);
      if (bad) return { ok: false, code: 'unknown-user', reason: `unknown user: the name ${bad}` };
      await this.unknownNames.before(username);
      candidates = this.byName.get(username);
      if (!candidates) return { ok: false, code: 'unknown-user', reason: 'unknown user' };
    }
    const badKey = offeredKeyProblem(key.data);
    if (badKey) return { ok: false, code: 'unknown-key', reason: badKey };
    const matching = candidates.filter((u) => constantTimeIncludes(u.keys, key.data));
    if (matching.length === 0) return { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' };
    if (matching.length > 1) {
      return { ok: false, code: 'bad-data', reason: `ambiguous: ${matching.map((u) => soltUserKey(u.id)).join(', ')} share this name and key` };
    }
    const user = matching[0]!;
    if (!user.active) return { ok: false, code: 'inactive', reason: 'user inactive' };
    if (user.problem) return { ok: false, code: 'bad-data', reason: user.problem };
    const folder = await this.ensureFolder(user);
    if ('error' in folder) return { ok: false, code: 'bad-data', reason: folder.error };
    return { ok: true, user: { name: user.name, target: { kind: 'folder', path: folder.path }, policy: { permissions: user.permissions } } };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.redis.off('ready', this.onMainReady);
    this.sub?.disconnect();
    for (const w of this.fullWaiters.splice(0)) w(false);
    for (const w of this.newIdsWaiters.splice(0)) w(false);
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
    if (this.fullWanted) return; // the full reload covers it
    if (this.pendingIds.size >= MAX_PENDING_IDS) {
      // A flood of announcements while a load runs: one full reload holds less than the queue.
      this.pendingIds.clear();
      void this.requestFull('many user changes');
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

  private requestNewIds(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.newIdsWaiters.push(resolve);
      this.newIdsWanted = true;
      this.kick();
    });
  }

  private kick(): void {
    if (!this.draining && !this.closed) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.closed && (this.fullWanted || this.newIdsWanted || this.pendingIds.size > 0)) {
        if (this.fullWanted) {
          // Covers everything asked for so far; later requests queue up again.
          const waiters = [...this.fullWaiters.splice(0), ...this.newIdsWaiters.splice(0)];
          const reason = this.fullReason;
          this.fullWanted = false;
          this.newIdsWanted = false;
          this.pendingIds.clear();
          const ok = await this.loadAll(reason);
          for (const w of waiters) w(ok);
        } else if (this.newIdsWanted) {
          const waiters = this.newIdsWaiters.splice(0);
          this.newIdsWanted = false;
          const ok = await this.loadNewIds();
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

  /** The valid ids in solt.sftp.users (bad ones logged once). */
  private async readIds(): Promise<string[]> {
    const members = await this.redis.smembers(SOLT_USERS_KEY);
    const ids: string[] = [];
    const bad = new Set<string>();
    for (const id of members) {
      const problem = idProblem(id);
      if (!problem) {
        ids.push(id);
        continue;
      }
      bad.add(`id:${id}`);
      this.report(`id:${id}`, { key: SOLT_USERS_KEY, member: describe(id), problem: `user id ${problem}` }, 'bad user id in redis: ignored');
    }
    for (const k of this.reported.keys()) if (k.startsWith('id:') && !bad.has(k)) this.reported.delete(k);
    return ids;
  }

  /** Fetch users in chunks, a few chunks at a time. `fromSet`: the ids were just read from solt.sftp.users. */
  private async fetch(ids: string[], fromSet: boolean): Promise<Map<string, RawUser>> {
    const limit = pLimit(4);
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += CHUNK) chunks.push(ids.slice(i, i + CHUNK));
    const keysOf = (id: string): [string, string] => [soltUserKey(id), soltKeysKey(id)];
    const parts = await Promise.all(chunks.map((c) => limit(() => fetchSoltUsers(this.redis, SOLT_USERS_KEY, c, keysOf, !fromSet))));
    return new Map(parts.flatMap((p) => [...p]));
  }

  private async loadAll(reason: string): Promise<boolean> {
    let raw: Map<string, RawUser>;
    try {
      raw = await this.fetch(await this.readIds(), true);
    } catch (err) {
      this.loadFailed('loading users from redis', err);
      return false;
    }
    const byId = new Map<string, SoltUser>();
    const ignored = new Set<string>();
    for (const [id, r] of raw) {
      const user = this.parseUser(id, r);
      if (user) byId.set(id, user);
      else ignored.add(id);
    }
    for (const id of this.reported.keys()) if (!id.startsWith('id:') && !raw.has(id)) this.reported.delete(id);
    for (const id of this.folderReported.keys()) if (!byId.has(id)) this.folderReported.delete(id);
    this.byId = byId;
    this.ignored = ignored;
    this.rebuildNames();
    if (this.loaded) this.changed({ kind: 'all', reason: 'reconnect' });
    const notable = !this.loaded || this.failing || reason === 'redis reconnected';
    this.loaded = true;
    this.failing = false;
    const fields = { store: this.kind, users: byId.size, reason };
    if (notable) this.log.info(fields, 'users loaded');
    else this.log.debug(fields, 'users loaded');
    return true;
  }

  /** What a missed "added" (or "deleted") message looks like: ids in Redis we do not know, or know but Redis no longer has. */
  private async loadNewIds(): Promise<boolean> {
    let ids: string[];
    try {
      ids = await this.readIds();
    } catch (err) {
      this.loadFailed('reading user ids from redis', err);
      return false;
    }
    const present = new Set(ids);
    const changed = ids.filter((id) => !this.byId.has(id) && !this.ignored.has(id));
    for (const id of this.byId.keys()) if (!present.has(id)) changed.push(id);
    this.log.debug({ store: this.kind, ids: present.size, fetched: changed.length }, 'user ids re-read for an unknown name');
    return changed.length === 0 || this.loadSome(changed);
  }

  private async loadSome(ids: string[]): Promise<boolean> {
    const names = new Set<string>();
    let raw: Map<string, RawUser>;
    try {
      raw = await this.fetch(ids, false);
    } catch (err) {
      // The retry is a full reload, which covers these ids.
      this.loadFailed('reading changed users from redis', err);
      return false;
    }
    for (const [id, r] of raw) {
      const before = this.byId.get(id);
      const user = this.parseUser(id, r);
      if (before) names.add(before.name);
      if (user) names.add(user.name);
      if (user) {
        this.byId.set(id, user);
        this.ignored.delete(id);
        this.log.info({ id, user: user.name, active: user.active, keys: user.keys.length, folder: user.folder }, 'user updated');
        if (user.active && !user.problem) {
          // Give a new or changed user their folder now, as solt_sftp did, not only at first login.
          this.ensureFolder(user).catch(() => undefined); // an outage: done at first login instead
        }
      } else {
        if (r.member) this.ignored.add(id);
        else this.ignored.delete(id);
        if (before) {
          this.byId.delete(id);
          this.folderReported.delete(id);
          this.log.info({ id, user: before.name }, 'user removed');
        }
      }
    }
    this.rebuildNames();
    if (names.size > 0) this.changed({ kind: 'users', names: [...names] });
    return true;
  }

  private readonly listeners: Array<(c: UserChange) => void> = [];

  onChange(listener: (c: UserChange) => void): void {
    this.listeners.push(listener);
  }

  private changed(c: UserChange): void {
    for (const l of this.listeners) l(c);
  }

  /** The user as stored, or undefined when it does not exist (or cannot be used at all); problems logged once. */
  private parseUser(id: string, raw: RawUser): SoltUser | undefined {
    const { user, notes, msg } = parseSoltUser(id, raw);
    const signature = JSON.stringify(notes);
    if (notes.length > 0 && this.reported.get(id) !== signature) {
      for (const n of notes) this.log.warn({ id, ...n }, msg);
    }
    if (notes.length > 0) this.reported.set(id, signature);
    else this.reported.delete(id);
    return user;
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
    if (!user.claimed) {
      const claim = await this.claimFolder(user);
      if ('error' in claim) return claim;
    }
    const name = user.folder!;
    const result = await ensureUserFolder(this.opts.sftpPath, name);
    if ('error' in result) {
      this.log.error({ key: hashKey, user: user.name, problem: result.error }, 'user folder unusable: logins refused');
      return { error: `${hashKey}: ${result.error}` };
    }
    if (result.created) this.log.info({ key: hashKey, user: user.name, folder: result.path }, 'user folder created');
    return result;
  }

  /** Claim the user's folder in the registry (assigning one if the hash has none); sets user.folder and user.claimed. */
  private async claimFolder(user: SoltUser): Promise<{ ok: true } | { error: string }> {
    const hashKey = soltUserKey(user.id);
    let candidates: string[] = [];
    if (user.folder === undefined) {
      // Not the folders other users' hashes name either, claimed or not yet (users from before the registry).
      const inHashes = new Set<string>();
      for (const u of this.byId.values()) if (u.id !== user.id && u.folder !== undefined) inHashes.add(u.folder);
      candidates = folderNameCandidates(user.name, user.id).filter((c) => !inHashes.has(c));
    }
    let claim;
    try {
      claim = await claimSoltFolder(this.redis, hashKey, user.id, candidates);
    } catch (err) {
      if (!isReplyError(err)) return this.unclaimedWhileDown(user, err);
      const problem = (err as Error).message;
      this.reportFolder(user.id, `reply:${problem}`, () => this.log.error({ key: SOLT_FOLDERS_KEY, user: hashKey, problem },
        'cannot claim user folder: bad data in redis; logins refused'));
      return { error: `cannot claim the folder of ${hashKey} in ${SOLT_FOLDERS_KEY}: ${problem}` };
    }
    switch (claim.kind) {
      case 'gone':
        return { error: `${hashKey} was deleted` };
      case 'exhausted':
        return { error: `no free folder name for ${hashKey} in ${SOLT_FOLDERS_KEY}` };
      case 'bad':
        this.log.warn({ key: hashKey, problem: `field "folder" ${claim.problem}` }, 'bad user data in redis');
        return { error: `bad folder in ${hashKey}: ${claim.problem}` };
      case 'taken': {
        const owner = soltUserKey(claim.owner);
        this.reportFolder(user.id, `taken:${claim.folder}:${claim.owner}`, () => this.log.error(
          { key: hashKey, user: user.name, folder: claim.folder, owner, registry: SOLT_FOLDERS_KEY },
          'user folder belongs to another user: logins refused'));
        return { error: `folder ${describe(claim.folder)} of ${hashKey} belongs to ${owner} (${SOLT_FOLDERS_KEY})` };
      }
    }
    // The hash may have changed since we read it: what Redis holds now is what counts.
    const problem = folderNameProblem(claim.folder);
    if (problem) {
      this.log.warn({ key: hashKey, problem: `field "folder" ${describe(claim.folder)} ${problem}` }, 'bad user data in redis');
      return { error: `bad folder in ${hashKey}: ${describe(claim.folder)} ${problem}` };
    }
    if (claim.how === 'assigned') this.log.info({ key: hashKey, user: user.name, folder: claim.folder }, 'user folder assigned (written back to redis)');
    if (claim.how === 'registered') this.log.info({ key: hashKey, user: user.name, folder: claim.folder, registry: SOLT_FOLDERS_KEY }, 'user folder registered');
    this.folderReported.delete(user.id);
    user.folder = claim.folder;
    user.claimed = true;
    return { ok: true };
  }

  /**
   * Redis is unreachable, so the registry cannot be asked. A user without a folder gets none (any
   * name we chose could be another process's choice too); one whose folder no other known user
   * has is served, as the rest of the last known state is.
   */
  private unclaimedWhileDown(user: SoltUser, err: unknown): { ok: true } | { error: string } {
    const hashKey = soltUserKey(user.id);
    if (user.folder === undefined) {
      throw new StoreUnavailableError(`redis-solt: cannot claim a folder for ${hashKey}: ${(err as Error).message}`);
    }
    // The registry said no before the outage: still no.
    if (this.folderReported.get(user.id)?.startsWith(`taken:${user.folder}:`)) {
      return { error: `folder ${describe(user.folder)} of ${hashKey} belongs to another user (${SOLT_FOLDERS_KEY}, as last seen)` };
    }
    for (const other of this.byId.values()) {
      if (other.id === user.id || other.folder !== user.folder) continue;
      const otherKey = soltUserKey(other.id);
      this.reportFolder(user.id, `shared:${user.folder}:${other.id}`, () => this.log.error(
        { key: hashKey, user: user.name, folder: user.folder, other: otherKey }, 'user folder is also another user\'s: logins refused until redis answers'));
      return { error: `folder ${describe(user.folder)} of ${hashKey} is also the folder of ${otherKey} (${SOLT_FOLDERS_KEY} cannot be asked: redis unavailable)` };
    }
    this.log.debug({ key: hashKey, folder: user.folder, err: (err as Error).message }, 'user folder not claimed (redis unavailable): served, no other user has it');
    return { ok: true };
  }

  private reportFolder(id: string, signature: string, log: () => void): void {
    if (this.folderReported.get(id) === signature) return;
    this.folderReported.set(id, signature);
    log();
  }
}
