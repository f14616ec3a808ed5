// Solt folders are claimed in Redis, so that two users never get the same one: not two users
// added back to back whose names clean to the same folder name, not two server processes
// deciding at once, not two hashes an admin gave the same `folder` by hand.
//
//   solt.sftp.folders   hash  folder name -> id of the user who owns it
//
// The first user to claim a folder keeps it. A user whose hash names a folder nobody has
// claimed yet (users from before the registry existed) claims it at first use. Entries are never
// removed by the server: a deleted user's files are still in the folder, so it is not handed to
// anyone else unless an admin deletes the entry.
import type { Redis } from 'ioredis';
import { LuaScript } from '../redis/lua-script.js';

export const SOLT_FOLDERS_KEY = 'solt.sftp.folders';

/** Longest owner id and folder name the script answers with (ids are at most 200 characters). */
const MAX_ANSWER = 256;

// KEYS: user hash, registry. ARGV: user id, MAX_ANSWER, then candidate names (used only when the
// hash has no folder). All in one script: the check, the claim and the write-back cannot interleave
// with another claim.
const CLAIM = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
local max = tonumber(ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'folder') == 1 then
  if redis.call('HSTRLEN', KEYS[1], 'folder') > max then return {'bad', 'longer than ' .. max .. ' characters'} end
  local current = redis.call('HGET', KEYS[1], 'folder')
  if redis.call('HSETNX', KEYS[2], current, ARGV[1]) == 1 then return {'ok', current, 'registered'} end
  local owner = redis.call('HGET', KEYS[2], current)
  if owner == ARGV[1] then return {'ok', current, ''} end
  return {'taken', current, string.sub(owner, 1, max)}
end
for i = 3, #ARGV do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[1]) == 1 or redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('HSET', KEYS[1], 'folder', ARGV[i])
    return {'ok', ARGV[i], 'assigned'}
  end
end
return {'exhausted'}`);

export type ClaimResult =
  | { kind: 'gone' }
  /** `how`: assigned (a new folder written to the hash), registered (the hash's folder, newly claimed) or already ours. */
  | { kind: 'ok'; folder: string; how: 'assigned' | 'registered' | 'ours' }
  | { kind: 'taken'; folder: string; owner: string }
  | { kind: 'bad'; problem: string }
  | { kind: 'exhausted' };

/**
 * Claim the folder of `userKey` (user `id`): the one its hash names, or else the first free one of
 * `candidates`, written to the hash. Rejects on connection trouble and on a ReplyError (for example
 * WRONGTYPE: the registry is not a hash).
 */
export async function claimSoltFolder(redis: Redis, userKey: string, id: string, candidates: string[]): Promise<ClaimResult> {
  const reply = (await CLAIM.run(redis, [userKey, SOLT_FOLDERS_KEY], [id, MAX_ANSWER, ...candidates])) as string[];
  switch (reply[0]) {
    case 'gone': return { kind: 'gone' };
    case 'exhausted': return { kind: 'exhausted' };
    case 'bad': return { kind: 'bad', problem: String(reply[1]) };
    case 'taken': return { kind: 'taken', folder: String(reply[1]), owner: String(reply[2]) };
    case 'ok': return { kind: 'ok', folder: String(reply[1]), how: reply[2] === 'assigned' ? 'assigned' : reply[2] === 'registered' ? 'registered' : 'ours' };
    default: throw new Error(`unexpected answer from the folder claim script: ${JSON.stringify(reply).slice(0, 100)}`);
  }
}
