// Picks the user store named by --store (default by mode). A new store is one file plus one case here.
import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/options.js';
import type { Redis } from 'ioredis';
import { expandPath } from '../config/parse-value.js';
import { FileStore } from './file-store.js';
import { RedisPysftpproxyStore } from './redis-pysftpproxy-store.js';
import { RedisSoltStore } from './redis-solt-store.js';
import type { UserStore } from './user-store.js';

/** `redis` is the shared connection main.ts made when the store's name starts with "redis". */
export async function createStore(config: Config, log: Logger, redis: Redis | undefined): Promise<UserStore> {
  const name = config.store;
  if (name === 'redis') {
    return new RedisPysftpproxyStore(redis!, { clientUser: config.clientUser, home: config.home }, log, config.redisChannel);
  }
  if (name === 'redis-solt') {
    return new RedisSoltStore(redis!, { sftpPath: config.sftpPath, channel: config.redisChannel }, log);
  }
  if (name.startsWith('file:')) {
    const raw = name.slice('file:'.length).trim();
    if (!raw) throw new ConfigError('--store file: needs a path, e.g. --store file:/etc/pysftpproxy/users.json');
    return new FileStore(expandPath(raw), { sftpPath: config.sftpPath, routeDefaults: { clientUser: config.clientUser, home: config.home } }, log);
  }
  throw new ConfigError(`--store ${name}: unknown store; use redis, redis-solt or file:PATH`);
}
