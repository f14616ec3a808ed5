// Reads solt users from Redis with every size bounded: an admin's mistake (a 100 MB field, a keys
// set of a million members, a hash with a million fields, a key of the wrong type) must cost a log
// line, not a 100 MB read at every reload. A Lua script reads only the fields the schema has,
// checks their sizes first and answers markers instead of oversized values.
import type { Redis } from 'ioredis';
import { LuaScript } from '../redis/lua-script.js';
import { MAX_KEY_TEXT } from './public-key-text.js';

/** Longest field value read (name, folder, active); longer ones are reported by length. */
export const MAX_FIELD = 4096;
/** Most public keys read for one user; more and none is accepted (reported once). */
export const MAX_KEYS = 256;
/** Longest public key text read: what parsePublicKeyText accepts. */
export const MAX_KEY = MAX_KEY_TEXT;

/** A field or set member: its value, its length when too long to read, or absent. */
export type Bounded = { value: string } | { tooLong: number };

export type RawUser =
  /** No hash (deleted, or never added). */
  | { kind: 'none'; member: boolean }
  /** The key exists but holds another type. */
  | { kind: 'wrongtype'; member: boolean; type: string }
  | {
      kind: 'hash';
      member: boolean;
      fields: Partial<Record<SoltField, Bounded>>;
      keys: { type: string } | { tooMany: number } | { members: Bounded[] };
    };

// KEYS: users set, then a user hash and its keys set for each user. ARGV: MAX_FIELD, MAX_KEYS,
// MAX_KEY, whether to check membership (1/0), then the ids. Answer: one list per user: {type of the hash key, member (0/1); for a
// hash: name, folder, active as 'v:<value>', 'l:<length>' or 'm' (missing); the keys set's type
// ('set' or another), and for a set its size and, unless too many, its members (v:/l:)}.
// Membership is answered as 1 without asking when the ids were just read from the users set.
// One call per batch of users: a full load runs this for every user, and a script call's own
// overhead is several times that of the commands in it.
const FETCH_USERS = new LuaScript(`
local maxField, maxKeys, maxKey, checkMember = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local function one(id, hash, keys)
  local member = 1
  if checkMember then member = redis.call('SISMEMBER', KEYS[1], id) end
  local fieldCount = redis.pcall('HLEN', hash)
  if type(fieldCount) == 'table' then return {redis.call('TYPE', hash).ok, member} end
  if fieldCount == 0 then return {'none', member} end
  local out = {'hash', member}
  local lengths = {redis.call('HSTRLEN', hash, 'name'), redis.call('HSTRLEN', hash, 'folder'), redis.call('HSTRLEN', hash, 'active'),
    redis.call('HSTRLEN', hash, 'permissions')}
  local values = redis.call('HMGET', hash, 'name', 'folder', 'active', 'permissions')
  for i = 1, 4 do
    if lengths[i] > maxField then out[#out + 1] = 'l:' .. lengths[i]
    elseif values[i] then out[#out + 1] = 'v:' .. values[i]
    else out[#out + 1] = 'm' end
  end
  local keyCount = redis.pcall('SCARD', keys)
  if type(keyCount) == 'table' then
    out[#out + 1] = redis.call('TYPE', keys).ok
    return out
  end
  out[#out + 1] = 'set'
  out[#out + 1] = keyCount
  if keyCount <= maxKeys then
    for _, m in ipairs(redis.call('SMEMBERS', keys)) do
      if #m > maxKey then out[#out + 1] = 'l:' .. #m else out[#out + 1] = 'v:' .. m end
    end
  end
  return out
end
local all = {}
for i = 5, #ARGV do
  all[#all + 1] = one(ARGV[i], KEYS[2 * (i - 5) + 2], KEYS[2 * (i - 5) + 3])
end
return all`);

/** The hash fields read, in the script's order. */
const SOLT_FIELDS = ['name', 'folder', 'active', 'permissions'] as const;
type SoltField = (typeof SOLT_FIELDS)[number];

function bounded(item: unknown): Bounded | undefined {
  const s = String(item);
  if (s.startsWith('v:')) return { value: s.slice(2) };
  if (s.startsWith('l:')) return { tooLong: Number(s.slice(2)) };
  return undefined;
}

function decode(reply: unknown[]): RawUser {
  const [hashType, member] = [String(reply[0]), reply[1] === 1];
  if (hashType === 'none') return { kind: 'none', member };
  if (hashType !== 'hash') return { kind: 'wrongtype', member, type: hashType };
  const fields: Partial<Record<SoltField, Bounded>> = {};
  SOLT_FIELDS.forEach((f, i) => {
    const b = bounded(reply[2 + i]);
    if (b) fields[f] = b;
  });
  const at = 2 + SOLT_FIELDS.length;
  const keysType = String(reply[at]);
  let keys: { type: string } | { tooMany: number } | { members: Bounded[] };
  if (keysType !== 'set') keys = { type: keysType };
  else if (Number(reply[at + 1]) > MAX_KEYS) keys = { tooMany: Number(reply[at + 1]) };
  else keys = { members: reply.slice(at + 2).map(bounded).filter((m): m is Bounded => m !== undefined) };
  return { kind: 'hash', member, fields, keys };
}

/**
 * Read a batch of users (a few hundred at most: the script holds Redis while it runs).
 * `checkMember`: ask whether each id is in `usersKey` (false: the ids were just read from it).
 * Connection trouble and a broken users set (WRONGTYPE from SISMEMBER) reject; bad data of one
 * user is in its RawUser.
 */
export async function fetchSoltUsers(redis: Redis, usersKey: string, ids: string[], keysOf: (id: string) => [string, string],
    checkMember: boolean): Promise<Map<string, RawUser>> {
  const keys = [usersKey, ...ids.flatMap(keysOf)];
  const replies = (await FETCH_USERS.run(redis, keys, [MAX_FIELD, MAX_KEYS, MAX_KEY, checkMember ? 1 : 0, ...ids])) as unknown[][];
  const out = new Map<string, RawUser>();
  ids.forEach((id, i) => out.set(id, decode(replies[i]!)));
  return out;
}
