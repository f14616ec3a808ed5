// One solt user as read by solt-fetch-users.ts, validated: the user (or none: deleted, or unusable
// at all) and the problems found, each naming its Redis key, for the store to log once.
import { parseStoredPermissions, type Permissions } from '../policy/permissions.js';
import { loginNameProblem, MAX_LOGIN_NAME } from './login-name.js';
import { describe } from './parse-route.js';
import { parsePublicKeyText } from './public-key-text.js';
import { MAX_KEYS, type Bounded, type RawUser } from './solt-fetch-users.js';
import { SOLT_USERS_KEY, soltKeysKey, soltUserKey } from './solt-keys.js';
import { folderNameProblem } from './user-folder.js';

export interface SoltUser {
  id: string;
  name: string;
  active: boolean;
  keys: Buffer[];
  /** Validated folder name relative to sftp_path; undefined: not assigned yet (done at first need). */
  folder: string | undefined;
  /** The folder is claimed for this user in solt.sftp.folders (checked since this copy was read). */
  claimed: boolean;
  /** Bad data that refuses every login of this user (already logged). */
  problem: string | undefined;
  /** Unset: the server's --permissions. */
  permissions: Permissions | undefined;
}

export interface SoltNote {
  key: string;
  problem: string;
  member?: string;
}

/** Bad public keys of one user noted one by one; the rest are counted in one note. */
const MAX_KEY_NOTES = 5;

function nameProblem(name: Bounded | undefined): string | undefined {
  if (name === undefined) return 'field "name" is missing';
  if ('tooLong' in name) return `field "name" is ${name.tooLong} bytes long, longer than ${MAX_LOGIN_NAME} characters`;
  const problem = loginNameProblem(name.value);
  return problem && `field "name" ${describe(name.value)} ${problem}`;
}

export interface ParsedSoltUser {
  /** Undefined: deleted, or unusable at all. */
  user: SoltUser | undefined;
  notes: SoltNote[];
  /** The log message for the notes. */
  msg: string;
}

export function parseSoltUser(id: string, raw: RawUser): ParsedSoltUser {
  const notes: SoltNote[] = [];
  const ignored = (note?: SoltNote): ParsedSoltUser => {
    if (note) notes.push(note);
    return { user: undefined, notes, msg: 'bad user data in redis: user ignored' };
  };
  const hashKey = soltUserKey(id);
  if (raw.kind === 'wrongtype') return ignored({ key: hashKey, problem: `WRONGTYPE: holds a ${raw.type}, not a hash` });
  if (raw.kind === 'none') return ignored(); // deleted
  if (!raw.member) return ignored({ key: hashKey, problem: `user hash exists but id is not in ${SOLT_USERS_KEY}` });
  const { name, folder, active, permissions } = raw.fields;
  const badName = nameProblem(name);
  if (badName || !name || !('value' in name)) return ignored({ key: hashKey, problem: badName ?? 'field "name" is unusable' });

  const user: SoltUser = {
    id,
    name: name.value,
    active: active !== undefined && 'value' in active && /^(true|1)$/i.test(active.value.trim()),
    keys: [],
    folder: undefined,
    claimed: false,
    problem: undefined,
    permissions: undefined,
  };
  const perms = permissions && 'value' in permissions ? parseStoredPermissions(permissions.value)
    : permissions ? { ok: false as const, word: '', problem: `is ${permissions.tooLong} bytes long` } : parseStoredPermissions(undefined);
  if (perms.ok) user.permissions = perms.permissions;
  else {
    user.problem = `bad permissions in ${hashKey}: ${JSON.stringify(perms.word)} ${perms.problem}`;
    notes.push({ key: hashKey, problem: `field "permissions" ${JSON.stringify(perms.word)} ${perms.problem}: logins refused` });
  }
  if (active && 'tooLong' in active) notes.push({ key: hashKey, problem: `field "active" is ${active.tooLong} bytes long: user inactive` });
  if (folder && 'tooLong' in folder) {
    user.problem = `bad folder in ${hashKey}: ${folder.tooLong} bytes long`;
    notes.push({ key: hashKey, problem: `field "folder" is ${folder.tooLong} bytes long: logins refused` });
  } else if (folder) {
    const problem = folderNameProblem(folder.value);
    if (problem) {
      user.problem = `bad folder in ${hashKey}: ${describe(folder.value)} ${problem}`;
      notes.push({ key: hashKey, problem: `field "folder" ${describe(folder.value)} ${problem}: logins refused` });
    } else {
      user.folder = folder.value;
    }
  }
  notes.push(...readKeys(soltKeysKey(id), raw.keys, user.keys));
  return { user, notes, msg: 'bad user data in redis' };
}

/** Parse the stored public keys into `into`; the problems, at most MAX_KEY_NOTES + 1 of them. */
function readKeys(keysKey: string, keys: Extract<RawUser, { kind: 'hash' }>['keys'], into: Buffer[]): SoltNote[] {
  if ('type' in keys) return [{ key: keysKey, problem: `WRONGTYPE: holds a ${keys.type}, not a set: no key accepted` }];
  if ('tooMany' in keys) return [{ key: keysKey, problem: `${keys.tooMany} public keys, more than ${MAX_KEYS}: no key accepted` }];
  const notes: SoltNote[] = [];
  let bad = 0;
  for (const member of keys.members) {
    const parsed = 'value' in member ? parsePublicKeyText(member.value) : { error: `too long (${member.tooLong} bytes)` };
    if (!('error' in parsed)) {
      into.push(parsed.blob);
      continue;
    }
    if (++bad <= MAX_KEY_NOTES) {
      const shown = 'value' in member ? describe(member.value) : `(${member.tooLong} bytes)`;
      notes.push({ key: keysKey, member: shown, problem: `public key ${parsed.error}: ignored` });
    }
  }
  if (bad > MAX_KEY_NOTES) notes.push({ key: keysKey, problem: `${bad - MAX_KEY_NOTES} more bad public keys: ignored` });
  return notes;
}
