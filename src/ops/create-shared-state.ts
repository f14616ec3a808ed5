// Picks where the limits and the defender keep their shared state (see shared-state.ts): Redis
// when the user store uses Redis, the --workers primary's memory over IPC in a worker without
// Redis, this process's memory otherwise.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { ClusterBans, ClusterCounters } from './cluster-state.js';
import type { ScoreLimiterFactory } from './defender.js';
import { MemoryBans, MemoryCounters } from './memory-state.js';
import { RedisBans, RedisCounters } from './redis-state.js';
import type { BanStore, CounterStore } from './shared-state.js';

export interface SharedState {
  kind: 'redis' | 'primary' | 'memory';
  counters: CounterStore;
  bans: BanStore;
  scores: ScoreLimiterFactory;
  close(): void;
}

export function createSharedState(redis: Redis | undefined, inWorker: boolean, log: Logger): SharedState {
  if (redis) {
    const counters = new RedisCounters(redis, log);
    return {
      kind: 'redis',
      counters,
      bans: new RedisBans(redis, log),
      scores: (keyPrefix, points, duration) => new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration }),
      close: () => counters.close(),
    };
  }
  if (inWorker) {
    return {
      kind: 'primary',
      counters: new ClusterCounters(),
      bans: new ClusterBans(),
      scores: (keyPrefix, points, duration) => new RateLimiterCluster({ keyPrefix, points, duration, timeoutMs: 2000 }),
      close: () => {},
    };
  }
  return {
    kind: 'memory',
    counters: new MemoryCounters(),
    bans: new MemoryBans(),
    scores: (keyPrefix, points, duration) => new RateLimiterMemory({ keyPrefix, points, duration }),
    close: () => {},
  };
}
