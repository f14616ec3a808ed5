// The writer for the store the configuration names, as create-store.ts picks the server's store.
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/options.js';
import { expandPath } from '../config/parse-value.js';
import { redisAddress } from '../redis/redis-connection.js';
import { routeDefaults } from './admin-context.js';
import { connectAdminRedis } from './admin-redis.js';
import { RedisPysftpproxyWriter } from './redis-pysftpproxy-writer.js';
import { RedisSoltWriter } from './redis-solt-writer.js';
import { UsersFileWriter } from './users-file-writer.js';
import type { UserWriter } from './user-writer.js';

export async function openWriter(config: Config): Promise<UserWriter> {
  const name = config.store;
  if (name === 'redis') return new RedisPysftpproxyWriter(await connectAdminRedis(config), config.redisChannel, redisAddress(config));
  if (name === 'redis-solt') return new RedisSoltWriter(await connectAdminRedis(config), config.redisChannel, redisAddress(config));
  if (name.startsWith('file:')) {
    const raw = name.slice('file:'.length).trim();
    if (!raw) throw new ConfigError('--store file: needs a path, e.g. --store file:/etc/pysftpproxy/users.json');
    return new UsersFileWriter(expandPath(raw), { mode: config.mode, sftpPath: config.sftpPath, routeDefaults: routeDefaults(config) });
  }
  throw new ConfigError(`--store ${name}: unknown store; use redis, redis-solt or file:PATH`);
}
