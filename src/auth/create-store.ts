// Picks the user store named by --store (default by mode). A new store is one file plus one case here.
import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/options.js';
import type { Redis } from 'ioredis';
import { RedisPysftpproxyStore } from './redis-pysftpproxy-store.js';
import type { UserStore } from './user-store.js';

export function storeName(config: Config): string {
  return config.store ?? (config.mode === 'local' ? 'redis-solt' : 'redis');
}

/** `redis` is the shared connection main.ts made when the store's name starts with "redis". */
export async function createStore(config: Config, log: Logger, redis: Redis | undefined): Promise<UserStore> {
  const name = storeName(config);
  if (name === 'redis') {
    return new RedisPysftpproxyStore(redis!, { clientUser: config.clientUser, home: config.home }, log);
  }
  throw new ConfigError(`--store ${name}: unknown store; use redis, redis-solt or file:PATH`);
}
