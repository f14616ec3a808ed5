// One ioredis connection tuned for an auth path: never queue or wait while Redis is down (a login
// is refused at once instead of hanging), reconnect forever in the background, and log each
// change of state once rather than every retry.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/options.js';

/** How often a connected Redis is asked whether it still answers. */
const HEALTH_CHECK_MS = 3000;

export type RedisSettings = Pick<Config, 'redisUrl' | 'redisHost' | 'redisPort' | 'redisDb' | 'redisPassword'>;

/** Where we connect, for logs: never includes the password. */
export function redisAddress(s: RedisSettings): string {
  if (s.redisUrl) {
    const u = new URL(s.redisUrl);
    return `${u.hostname}:${u.port || 6379}${u.pathname || ''}`;
  }
  return `${s.redisHost}:${s.redisPort}/${s.redisDb}`;
}

const upState = new WeakMap<Redis, () => boolean>();

/** Whether `client` (made by createRedis) answers: connected and its health checks pass. */
export function redisIsUp(client: Redis): boolean {
  return upState.get(client)?.() ?? client.status === 'ready';
}

/**
 * `whileDown` tells the operator what an outage means for this process (proxy mode refuses logins;
 * local mode keeps serving the users it has in memory).
 */
export function createRedis(s: RedisSettings, log: Logger, whileDown: string): Redis {
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
    // A subscriber must come back subscribed: ioredis re-subscribes itself on reconnect.
    autoResubscribe: true,
  };
  const client = s.redisUrl
    ? new Redis(s.redisUrl, options)
    : new Redis({ ...options, host: s.redisHost, port: s.redisPort, db: s.redisDb, password: s.redisPassword });

  const address = redisAddress(s);
  let state: 'starting' | 'up' | 'down' = 'starting';
  upState.set(client, () => state === 'up' && client.status === 'ready');
  client.on('ready', () => {
    if (state !== 'up') log.info({ redis: address }, state === 'down' ? 'redis available again' : 'redis connected');
    state = 'up';
  });
  const down = (err?: Error) => {
    if (state === 'down') return;
    log.error({ redis: address, err: err?.message }, `redis unavailable: ${whileDown}`);
    state = 'down';
  };
  client.on('error', down);
  client.on('close', () => { if (state === 'up') down(); });
  // A Redis that hangs (stopped, swapping, overloaded) keeps its connection: commands time out
  // but no event says so. A periodic PING notices, and notices it answering again.
  const health = setInterval(() => {
    if (client.status !== 'ready') return;
    client.ping().then(() => {
      if (state !== 'down') return;
      log.info({ redis: address }, 'redis available again');
      state = 'up';
    }, (err: Error) => down(err));
  }, HEALTH_CHECK_MS);
  health.unref();
  client.once('end', () => clearInterval(health));
  return client;
}
