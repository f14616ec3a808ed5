// Users in the solt_sftp schema (local mode), read with the store's own bounded reader and parser:
//   solt.sftp.users  set of ids;  solt.sftp.user.<id>  hash name, folder, active, permissions;
//   solt.sftp.user.<id>.keys  set of key blobs;  solt.sftp.folders  folder -> owning id.
// Names are not unique in the schema itself; the CLI keeps them unique (a login by a name two
// users share and a key both hold is refused as ambiguous). Every change publishes the id on the
// channel in the same transaction, so a running server re-reads that user at once.
import type { Redis } from 'ioredis';
import { parsePublicKeyText } from '../auth/public-key-text.js';
import { idProblem } from '../auth/redis-solt-store.js';
import { fetchSoltUsers, MAX_KEYS, type RawUser } from '../auth/solt-fetch-users.js';
import { SOLT_FOLDERS_KEY } from '../auth/solt-folder-claim.js';
import { SOLT_USERS_KEY, soltKeysKey, soltUserKey } from '../auth/solt-keys.js';
import { parseSoltUser, type SoltUser } from '../auth/solt-parse-user.js';
import { folderNameProblem } from '../auth/user-folder.js';
import { fingerprint } from '../keys/fingerprint.js';
import { refuse } from './admin-error.js';
import type { AdminKey } from './key-argument.js';
import { keyAlreadyHeld, keyTaken, nameTaken } from './refusals.js';
import { redisCall, throwFirstError, watched, type ExecResults } from './redis-transaction.js';
import { ADD_SOLT_USER, scriptAnswer, UPDATE_SOLT_USER } from './solt-admin-scripts.js';
import type { ChangeResult, NewUser, UserChanges, UserRecord } from './user-record.js';
import type { UserWriter } from './user-writer.js';

const CHUNK = 200;
/** Ids tried after the next free one turns out to be taken (a hash left without its id in the set). */
const ID_ATTEMPTS = 20;

interface Entry {
  id: string;
  raw: RawUser;
  user: SoltUser;
  problems: string[];
}

export class RedisSoltWriter implements UserWriter {
  readonly ids = true;
  readonly kinds = ['folder'] as const;
  readonly description: string;

  constructor(private readonly redis: Redis, private readonly channel: string, private readonly address: string) {
    this.description = `redis ${address} (solt schema)`;
  }

  defaultFolder(): undefined {
    return undefined; // the server claims one in solt.sftp.folders when it reads the user
  }

  list(): Promise<UserRecord[]> {
    return this.call(async () => (await this.readAll()).map((e) => this.record(e))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareIds(a.id!, b.id!))));
  }

  find(name: string, id?: string): Promise<UserRecord | undefined> {
    return this.call(async () => {
      const entry = this.pick(await this.readAll(), name, id);
      return entry && this.record(entry);
    });
  }

  add(u: NewUser): Promise<ChangeResult> {
    return this.call(async () => {
      if (u.id !== undefined) {
        const bad = idProblem(u.id);
        if (bad) refuse(`--id ${JSON.stringify(u.id)}: a user id ${bad}`);
      }
      if (u.folder !== undefined) checkFolderName(u.folder);
      await ADD_SOLT_USER.load(this.redis);
      let id = u.id;
      for (let attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
        let tried = '';
        const results = await watched(this.redis, [SOLT_USERS_KEY], async () => {
          const all = await this.readAll();
          const sameName = all.find((e) => e.user.name === u.name);
          if (sameName) nameTaken(u.name, soltUserKey(sameName.id));
          for (const k of u.keys) {
            const owner = all.find((e) => e.user.keys.some((b) => b.equals(k.blob)));
            if (owner) keyTaken(k.fingerprint, owner.user.name);
          }
          if (u.folder !== undefined) this.folderFree(all, u.folder, undefined);
          tried = id ?? nextId(await this.redis.smembers(SOLT_USERS_KEY));
          const fields = ['name', u.name, 'active', 'True', ...(u.permissions !== undefined ? ['permissions', u.permissions] : [])];
          return this.redis.multi().evalsha(ADD_SOLT_USER.sha, 4, SOLT_USERS_KEY, soltUserKey(tried), soltKeysKey(tried), SOLT_FOLDERS_KEY,
            tried, this.channel, u.folder ?? '', fields.length / 2, ...fields, ...u.keys.map((k) => k.blob.toString('base64')));
        });
        const answer = this.answer(results, u.folder);
        if (answer === 'ok') return { id: tried, notice: { channel: this.channel, message: tried }, notes: [] };
        if (u.id !== undefined) refuse(`user id ${u.id} already exists (${soltUserKey(u.id)}): choose another --id, or leave it out for the next free one`);
        id = String(Number(tried) + 1);
      }
      return refuse(`no free user id found after ${ID_ATTEMPTS} tries (hashes without their id in ${SOLT_USERS_KEY}?): give one with --id`);
    });
  }

  update(user: UserRecord, changes: UserChanges): Promise<ChangeResult> {
    if (changes.folder !== undefined) checkFolderName(changes.folder);
    const pairs: string[] = [];
    if (changes.permissions !== undefined) pairs.push('permissions', changes.permissions ?? '');
    return this.runUpdate(user, changes.folder, pairs);
  }

  setActive(user: UserRecord, active: boolean): Promise<ChangeResult> {
    return this.runUpdate(user, undefined, ['active', active ? 'True' : 'False']);
  }

  remove(user: UserRecord): Promise<ChangeResult> {
    const id = user.id!;
    return this.call(async () => {
      let folderNote: string | undefined;
      const results = await watched(this.redis, [soltUserKey(id)], async () => {
        if ((await this.redis.exists(soltUserKey(id))) === 0) refuse(`${soltUserKey(id)} was removed meanwhile`);
        const folder = user.folder;
        folderNote = folder !== undefined && (await this.redis.hget(SOLT_FOLDERS_KEY, folder)) === id
          ? `folder ${JSON.stringify(folder)} stays claimed by id ${id} in ${SOLT_FOLDERS_KEY} (its files are kept); \`HDEL ${SOLT_FOLDERS_KEY} ${folder}\` frees it`
          : undefined;
        return this.redis.multi().srem(SOLT_USERS_KEY, id).del(soltUserKey(id), soltKeysKey(id)).publish(this.channel, id);
      });
      throwFirstError(results);
      return { notice: { channel: this.channel, message: id }, notes: folderNote ? [folderNote] : [] };
    });
  }

  addKey(user: UserRecord, key: AdminKey): Promise<ChangeResult> {
    const id = user.id!;
    return this.call(async () => {
      const results = await watched(this.redis, [SOLT_USERS_KEY, soltKeysKey(id)], async () => {
        const all = await this.readAll();
        const self = all.find((e) => e.id === id);
        if (!self) refuse(`${soltUserKey(id)} was removed meanwhile`);
        const owner = all.find((e) => e.user.keys.some((b) => b.equals(key.blob)));
        if (owner?.id === id) keyAlreadyHeld(key.fingerprint, user.name);
        if (owner) keyTaken(key.fingerprint, owner.user.name);
        if (self.user.keys.length >= MAX_KEYS) refuse(`user ${JSON.stringify(user.name)} has ${MAX_KEYS} keys, the most the server reads: remove one first`);
        return this.redis.multi().sadd(soltKeysKey(id), key.blob.toString('base64')).publish(this.channel, id);
      });
      throwFirstError(results);
      return { notice: { channel: this.channel, message: id }, notes: [] };
    });
  }

  removeKey(user: UserRecord, key: AdminKey): Promise<ChangeResult> {
    const id = user.id!;
    const keysKey = soltKeysKey(id);
    return this.call(async () => {
      const results = await watched(this.redis, [keysKey], async () => {
        // The set may hold the key as a bare blob or as a whole .pub line: remove every form of it.
        // Members are read as the server reads them (bounded); past MAX_KEYS only the blob form is known.
        const raw = (await fetchSoltUsers(this.redis, SOLT_USERS_KEY, [id], (i) => [soltUserKey(i), soltKeysKey(i)], false)).get(id);
        const stored = raw?.kind === 'hash' && 'members' in raw.keys ? raw.keys.members : [];
        const members = [key.blob.toString('base64'), ...stored.flatMap((m) => ('value' in m ? [m.value] : []))];
        const matching = [...new Set(members.filter((m) => {
          const parsed = parsePublicKeyText(m);
          return !('error' in parsed) && parsed.blob.equals(key.blob);
        }))];
        if (matching.length === 0) refuse(`user ${JSON.stringify(user.name)} has no key ${key.fingerprint}`);
        return this.redis.multi().srem(keysKey, ...matching).publish(this.channel, id);
      });
      throwFirstError(results);
      return { notice: { channel: this.channel, message: id }, notes: [] };
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  // --- helpers ----------------------------------------------------------------------------

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return redisCall(this.address, fn);
  }

  private runUpdate(user: UserRecord, folder: string | undefined, pairs: string[]): Promise<ChangeResult> {
    const id = user.id!;
    return this.call(async () => {
      await UPDATE_SOLT_USER.load(this.redis);
      const results = await watched(this.redis, [SOLT_USERS_KEY], async () => {
        if (folder !== undefined) this.folderFree(await this.readAll(), folder, id);
        return this.redis.multi().evalsha(UPDATE_SOLT_USER.sha, 2, soltUserKey(id), SOLT_FOLDERS_KEY, id, this.channel, folder ?? '', ...pairs);
      });
      if (this.answer(results, folder) !== 'ok') refuse(`${soltUserKey(id)} was removed meanwhile`);
      return { notice: { channel: this.channel, message: id }, notes: [] };
    });
  }

  /** 'ok', or 'taken' for an id (or a user gone); refuses for a folder someone else claimed. */
  private answer(results: ExecResults, folder: string | undefined): 'ok' | 'taken' {
    throwFirstError(results);
    const a = scriptAnswer(results[0]![1]);
    if (a.kind === 'folder-taken') folderClaimed(folder!, a.owner);
    return a.kind === 'ok' ? 'ok' : 'taken';
  }

  /** Refuses a folder another user's hash names, claimed yet or not (users from before the registry). */
  private folderFree(all: Entry[], folder: string, id: string | undefined): void {
    const other = all.find((e) => e.id !== id && e.user.folder === folder);
    if (other) refuse(`folder ${JSON.stringify(folder)} is the folder of user ${JSON.stringify(other.user.name)} (${soltUserKey(other.id)}): two users never share a folder`);
  }

  /** Every usable user (parsed as the server parses them). */
  private async readAll(): Promise<Entry[]> {
    const type = await this.redis.type(SOLT_USERS_KEY);
    if (type !== 'set' && type !== 'none') refuse(`${SOLT_USERS_KEY} holds a ${type}, not a set: fix it first`);
    const ids = (await this.redis.smembers(SOLT_USERS_KEY)).filter((id) => !idProblem(id));
    const out: Entry[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const raw = await fetchSoltUsers(this.redis, SOLT_USERS_KEY, chunk, (id) => [soltUserKey(id), soltKeysKey(id)], false);
      for (const [id, r] of raw) {
        const { user, notes } = parseSoltUser(id, r);
        if (user) out.push({ id, raw: r, user, problems: notes.map((n) => `${n.key}${n.member ? ` ${n.member}` : ''}: ${n.problem}`) });
      }
    }
    return out;
  }

  private pick(all: Entry[], name: string, id: string | undefined): Entry | undefined {
    if (id !== undefined) {
      const e = all.find((x) => x.id === id);
      if (e && e.user.name !== name) refuse(`${soltUserKey(id)} is user ${JSON.stringify(e.user.name)}, not ${JSON.stringify(name)}`);
      return e;
    }
    const matches = all.filter((e) => e.user.name === name);
    if (matches.length > 1) {
      refuse(`${matches.length} solt users are named ${JSON.stringify(name)} (${matches.map((e) => soltUserKey(e.id)).join(', ')}): pick one with --id`);
    }
    return matches[0];
  }

  private record(e: Entry): UserRecord {
    const fields = e.raw.kind === 'hash' ? e.raw.fields : {};
    const permissions = fields.permissions && 'value' in fields.permissions ? fields.permissions.value : undefined;
    const keys: AdminKey[] = e.user.keys.map((blob) => {
      const parsed = parsePublicKeyText(blob.toString('base64'));
      return { algo: 'error' in parsed ? '?' : parsed.algo, blob, fingerprint: fingerprint(blob) };
    });
    return {
      name: e.user.name,
      id: e.id,
      active: e.user.active,
      keys,
      kind: 'folder',
      ...(e.user.folder !== undefined ? { folder: e.user.folder } : {}),
      ...(permissions !== undefined ? { permissions } : {}),
      location: soltUserKey(e.id),
      problems: e.problems,
    };
  }
}

/** The server's rule: one directory name directly under sftp_path. */
function checkFolderName(folder: string): void {
  const problem = folderNameProblem(folder);
  if (problem) refuse(`folder ${JSON.stringify(folder)} ${problem}: a solt folder is one directory name under --sftp-path`);
}

function folderClaimed(folder: string, owner: string): never {
  return refuse(`folder ${JSON.stringify(folder)} is claimed by ${soltUserKey(owner)} in ${SOLT_FOLDERS_KEY}: two users never share a folder ` +
    `(if that user is gone and its files may go to this one, \`HDEL ${SOLT_FOLDERS_KEY} ${folder}\` first)`);
}

/** One more than the largest numeric id (solt ids are numbers); 1 when there is none. */
export function nextId(ids: string[]): string {
  let max = 0;
  for (const id of ids) if (/^\d{1,15}$/.test(id)) max = Math.max(max, Number(id));
  return String(max + 1);
}

function compareIds(a: string, b: string): number {
  const na = Number(a), nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
}
