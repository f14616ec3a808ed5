// Where `pysftpproxy bans` finds the defender's bans, as the server keeps them (create-shared-state.ts):
// in Redis when the store uses Redis (every instance shares them), otherwise in the running
// server's memory, reached through its admin endpoint (--admin-listen).
import { pino } from 'pino';
import type { Config } from '../config/options.js';
import { RedisBans } from '../ops/redis-state.js';
import { redisAddress } from '../redis/redis-connection.js';
import { refuse } from './admin-error.js';
import { connectAdminRedis, redisFailure } from './admin-redis.js';
import type { BanSource } from './ban-source.js';
import { endpointBans } from './endpoint-bans.js';


export async function openBanSource(config: Config): Promise<BanSource> {
  if (config.store.startsWith('redis')) return redisSource(config);
  if (config.adminListen) return endpointBans(config.adminListen);
  return refuse(`the store is ${config.store}, so the bans live in the running server's memory: give its --admin-listen HOST:PORT ` +
    '(or SFTPPROXY_ADMIN_LISTEN) so that this command can ask it');
}

async function redisSource(config: Config): Promise<BanSource> {
  const redis = await connectAdminRedis(config);
  const where = `redis ${redisAddress(config)}`;
  // RedisBans logs only outages of the server's own connection; a command reports failures itself.
  const bans = new RedisBans(redis, pino({ level: 'silent' }));
  const failed = (err: unknown): never => { throw redisFailure(err, redisAddress(config)); };
  return {
    where,
    list: () => bans.list().catch(failed),
    lift: (key) => bans.lift(key).catch(failed),
    async close() { redis.disconnect(); },
  };
}
