// Shared state in Redis, for every process of every instance that uses the same Redis.
// - Counters survive crashes: each instance counts its own places in a hash field
//   (pysftpproxy:limit:<key> -> {instance: n}) and keeps a liveness key
//   (pysftpproxy:instance:<id>, 30 s TTL, refreshed every 10 s). A count whose instance's liveness
//   key is gone is dropped the next time the limit is checked, so a killed instance frees its
//   places within 30 s instead of holding them forever.
// - Bans are keys with the ban's TTL (pysftpproxy:ban:<ip>), so they survive restarts and expire
//   by themselves.
// Redis unreachable: limits grant (fail open), bans are not known; logged once per outage.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LuaScript } from '../redis/lua-script.js';
import { NO_LEASE, type BanRecord, type BanStore, type CounterStore, type Lease } from './shared-state.js';

export const LIMIT_PREFIX = 'pysftpproxy:limit:';
export const INSTANCE_PREFIX = 'pysftpproxy:instance:';
export const BAN_PREFIX = 'pysftpproxy:ban:';
const LIVENESS_TTL_S = 30;
const LIVENESS_REFRESH_MS = 10_000;

/** KEYS[1] limit hash; ARGV: instance, limit, instance key prefix. Answers the new count, or -1 if full. */
const ACQUIRE = new LuaScript(`
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local inst = fields[i]
  if inst ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. inst) == 0 then
    redis.call('HDEL', KEYS[1], inst)
  else
    total = total + tonumber(fields[i + 1])
  end
end
if total >= tonumber(ARGV[2]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return total + 1`);

/** KEYS[1] limit hash; ARGV: instance. */
const RELEASE = new LuaScript(`
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n`);

/** Reports a Redis failure once until Redis answers again. */
class OutageNote {
  private down = false;
  constructor(private readonly log: Logger, private readonly what: string) {}
  failed(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log.warn({ err: (err as Error).message }, `${this.what}: redis unavailable, not enforced until it is back`);
  }
  ok(): void {
    this.down = false;
  }
}

export class RedisCounters implements CounterStore {
  readonly instance = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private readonly timer: NodeJS.Timeout;
  private readonly outage: OutageNote;

  constructor(private readonly redis: Redis, log: Logger) {
    this.outage = new OutageNote(log, 'connection limits');
    const refresh = (): void => void this.redis.set(INSTANCE_PREFIX + this.instance, '1', 'EX', LIVENESS_TTL_S).catch(() => {});
    refresh();
    this.timer = setInterval(refresh, LIVENESS_REFRESH_MS);
    this.timer.unref();
  }

  async acquire(key: string, limit: number): Promise<Lease | null> {
    if (limit <= 0) return NO_LEASE;
    const hash = LIMIT_PREFIX + key;
    let n: number;
    try {
      n = Number(await ACQUIRE.run(this.redis, [hash], [this.instance, limit, INSTANCE_PREFIX]));
      this.outage.ok();
    } catch (err) {
      this.outage.failed(err);
      return NO_LEASE;
    }
    if (n < 0) return null;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        RELEASE.run(this.redis, [hash], [this.instance]).catch(() => {}); // lost: the count dies with the liveness key
      },
    };
  }

  close(): void {
    clearInterval(this.timer);
    void this.redis.del(INSTANCE_PREFIX + this.instance).catch(() => {});
  }
}

export class RedisBans implements BanStore {
  private readonly outage: OutageNote;

  constructor(private readonly redis: Redis, log: Logger) {
    this.outage = new OutageNote(log, 'brute-force bans');
  }

  async banned(ip: string): Promise<BanRecord | undefined> {
    try {
      const v = await this.redis.get(BAN_PREFIX + ip);
      this.outage.ok();
      return v === null ? undefined : parseBan(ip, v);
    } catch (err) {
      this.outage.failed(err);
      return undefined;
    }
  }

  async ban(record: BanRecord): Promise<boolean> {
    const ms = Math.max(1, record.until - Date.now());
    try {
      return (await this.redis.set(BAN_PREFIX + record.ip, JSON.stringify(record), 'PX', ms, 'NX')) === 'OK';
    } catch (err) {
      this.outage.failed(err);
      return false;
    }
  }

  async lift(ip: string): Promise<boolean> {
    return (await this.redis.del(BAN_PREFIX + ip)) > 0;
  }

  async list(): Promise<BanRecord[]> {
    const out: BanRecord[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${BAN_PREFIX}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.redis.mget(...keys);
      keys.forEach((k, i) => {
        const v = values[i];
        const b = v ? parseBan(k.slice(BAN_PREFIX.length), v) : undefined;
        if (b) out.push(b);
      });
    } while (cursor !== '0');
    return out;
  }
}

/** A stored ban; data we did not write (hand-edited, corrupt) still bans, with what it says. */
function parseBan(ip: string, text: string): BanRecord {
  try {
    const v = JSON.parse(text) as Partial<BanRecord>;
    return { ip, since: Number(v.since) || 0, until: Number(v.until) || 0, score: Number(v.score) || 0 };
  } catch {
    return { ip, since: 0, until: 0, score: 0 };
  }
}
