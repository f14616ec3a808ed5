// Check-then-write in Redis without a window between the two: the keys the checks read are
// WATCHed, and the writes (with the change notice) go in one MULTI that Redis drops if any of
// them changed meanwhile. Then the checks run again on what is there now.
import type { ChainableCommander, Redis } from 'ioredis';
import { RefusedError, StoreError } from './admin-error.js';
import { redisFailure } from './admin-redis.js';
import { changedMeanwhile } from './refusals.js';

const ATTEMPTS = 3;

export type ExecResults = Array<[Error | null, unknown]>;

/**
 * `attempt` reads and checks (refusing if need be) and returns the transaction to run; it is run
 * again if a watched key changed before EXEC. Resolves with EXEC's results.
 */
export async function watched(redis: Redis, keys: string[], attempt: () => Promise<ChainableCommander>): Promise<ExecResults> {
  for (let i = 0; i < ATTEMPTS; i++) {
    if (keys.length > 0) await redis.watch(...keys);
    let multi: ChainableCommander;
    try {
      multi = await attempt();
    } catch (err) {
      await redis.unwatch().catch(() => undefined);
      throw err;
    }
    const results = (await multi.exec()) as ExecResults | null;
    if (results === null) continue; // a watched key changed: look again
    return results;
  }
  return changedMeanwhile();
}

/** Runs `fn`, turning Redis trouble into a StoreError naming `address`; refusals pass through. */
export async function redisCall<T>(address: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RefusedError || err instanceof StoreError) throw err;
    throw redisFailure(err, address);
  }
}

/** The first command error in a transaction's results, thrown. */
export function throwFirstError(results: ExecResults): void {
  for (const [err] of results) if (err) throw err;
}
