// One ioredis connection tuned for an auth path: never queue or wait while Redis is down (a login
// is refused at once instead of hanging), reconnect forever in the background, and log each
// change of state once rather than every retry.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/options.js';
import { watchSwitches } from './sentinel-switch-watch.js';

/** How often a connected Redis is asked whether it still answers. */
const HEALTH_CHECK_MS = 3000;

export type RedisSettings = Pick<Config, 'redisUrl' | 'redisHost' | 'redisPort' | 'redisDb' | 'redisPassword' |
  'redisSentinels' | 'redisSentinelName' | 'redisSentinelPassword'>;

/** Where we connect, for logs: never includes the password. */
export function redisAddress(s: RedisSettings): string {
  if (s.redisSentinels) {
    const sentinels = s.redisSentinels.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
    return `sentinel ${s.redisSentinelName} via ${sentinels} db ${s.redisDb}`;
  }
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

/** The Sentinel part of the ioredis options: the sentinels name the master at every (re)connect. */
function sentinelOptions(s: RedisSettings): RedisOptions {
  return {
    sentinels: s.redisSentinels!.map(({ host, port }) => ({ host, port })),
    name: s.redisSentinelName,
    sentinelPassword: s.redisSentinelPassword,
    role: 'master',
    // A hung sentinel must not hold a reconnect: ask the next one.
    sentinelCommandTimeout: 1000,
    // A failover is over in seconds and a retry costs one sentinel query: retry often, so the
    // new master is found within a quarter second of the sentinels naming it.
    retryStrategy: (times: number) => Math.min(50 * times, 250),
    // A demoted master that is still up: sentinel-switch-watch.ts moves us at the sentinels'
    // announcement, and a write refused as READONLY sends us back to the sentinels too.
    // (ioredis's failoverDetector is left off: it drops the connection again at every
    // sentinel's +switch-master, each announcing the same switch in turn: several outages.)
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
  };
}

/**
 * `whileDown` tells the operator what an outage means for this process (proxy mode refuses logins;
 * local mode keeps serving the users it has in memory). A Sentinel failover is such an outage,
 * from the old master's loss to the new master's first answer.
 */
export function createRedis(s: RedisSettings, log: Logger, whileDown: string): Redis {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
    // A subscriber must come back subscribed: ioredis re-subscribes itself on reconnect.
    autoResubscribe: true,
  };
  // duplicate() copies these options, so the solt store's subscriber follows the sentinels too.
  const client = s.redisSentinels
    ? new Redis({ ...options, ...sentinelOptions(s), db: s.redisDb, password: s.redisPassword })
    : s.redisUrl
      ? new Redis(s.redisUrl, options)
      : new Redis({ ...options, host: s.redisHost, port: s.redisPort, db: s.redisDb, password: s.redisPassword });

  if (s.redisSentinels) followSwitches(client, s, log);

  const address = redisAddress(s);
  let state: 'starting' | 'up' | 'down' = 'starting';
  upState.set(client, () => state === 'up' && client.status === 'ready');
  let master: string | undefined;
  client.on('ready', () => {
    // With sentinels, which server we reached is news: it changes at a failover.
    const now = s.redisSentinels ? `${client.stream?.remoteAddress}:${client.stream?.remotePort}` : undefined;
    if (master !== undefined && now !== master) log.warn({ redis: address, from: master, to: now }, 'redis master changed');
    master = now;
    if (state !== 'up') log.info({ redis: address, master: now }, state === 'down' ? 'redis available again' : 'redis connected');
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

/** The main connection and every duplicate() of it (the solt subscriber) follow a planned switchover. */
function followSwitches(client: Redis, s: RedisSettings, log: Logger): void {
  const watch = watchSwitches(s, log);
  watch.track(client);
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    watch.track(copy);
    return copy;
  };
  client.once('end', () => watch.close());
}
