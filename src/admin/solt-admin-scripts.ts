// The solt writes that must be conditional inside Redis itself: a user id nobody has, and a
// folder claimed in solt.sftp.folders exactly as the server claims one (solt-folder-claim.ts:
// the first id to claim a folder keeps it, HSETNX-style) together with the write that names it,
// so no server or other admin can slip in between. Each script publishes the id when it wrote.
import { LuaScript } from '../redis/lua-script.js';

/** Longest owner id a script answers with (ids are at most 200 characters). */
export const MAX_ANSWER = 256;

// KEYS: users set, user hash, keys set, folders registry. ARGV: id, channel, folder ('' = none),
// n, then n field/value pairs for the hash, then the key blobs.
export const ADD_SOLT_USER = new LuaScript(`
local id, channel, folder = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SISMEMBER', KEYS[1], id) == 1 or redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  return {'id-taken'}
end
if folder ~= '' then
  local owner = redis.call('HGET', KEYS[4], folder)
  if owner and owner ~= id then return {'folder-taken', string.sub(owner, 1, ${MAX_ANSWER})} end
end
local n = tonumber(ARGV[4])
local fields = {}
for i = 5, 4 + 2 * n do fields[#fields + 1] = ARGV[i] end
if folder ~= '' then
  redis.call('HSET', KEYS[4], folder, id)
  fields[#fields + 1] = 'folder'
  fields[#fields + 1] = folder
end
redis.call('HSET', KEYS[2], unpack(fields))
for i = 5 + 2 * n, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
redis.call('SADD', KEYS[1], id)
redis.call('PUBLISH', channel, id)
return {'ok'}`);

// KEYS: user hash, folders registry. ARGV: id, channel, folder ('' = unchanged), then
// field/value pairs ('' value = remove the field).
export const UPDATE_SOLT_USER = new LuaScript(`
local id, channel, folder = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if folder ~= '' then
  local owner = redis.call('HGET', KEYS[2], folder)
  if owner and owner ~= id then return {'folder-taken', string.sub(owner, 1, ${MAX_ANSWER})} end
  redis.call('HSET', KEYS[2], folder, id)
  redis.call('HSET', KEYS[1], 'folder', folder)
end
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('PUBLISH', channel, id)
return {'ok'}`);

export type ScriptAnswer = { kind: 'ok' } | { kind: 'id-taken' } | { kind: 'gone' } | { kind: 'folder-taken'; owner: string };

export function scriptAnswer(reply: unknown): ScriptAnswer {
  const r = reply as string[];
  switch (r?.[0]) {
    case 'ok': return { kind: 'ok' };
    case 'id-taken': return { kind: 'id-taken' };
    case 'gone': return { kind: 'gone' };
    case 'folder-taken': return { kind: 'folder-taken', owner: String(r[1]) };
    default: throw new Error(`unexpected answer from an admin script: ${JSON.stringify(reply).slice(0, 100)}`);
  }
}
