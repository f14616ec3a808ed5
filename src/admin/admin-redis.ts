// The admin commands' Redis connection: unlike the server's (which retries forever in the
// background), a command connects once, fails at once with one line if Redis is not there, and
// queues nothing.
import { Redis } from 'ioredis';
import { redisAddress, type RedisSettings } from '../redis/redis-connection.js';
import { StoreError } from './admin-error.js';

const TIMEOUT_MS = 5000;

export async function connectAdminRedis(s: RedisSettings): Promise<Redis> {
  const options = {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  };
  const client = s.redisUrl
    ? new Redis(s.redisUrl, options)
    : new Redis({ ...options, host: s.redisHost, port: s.redisPort, db: s.redisDb, password: s.redisPassword });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => { lastError = err; }); // reported through the failing call
  try {
    await client.connect();
  } catch (err) {
    // Without retries the client has ended already; disconnect() now would arm a 2 s timer on a closed socket.
    if (client.status !== 'end') client.disconnect();
    const e = (lastError ?? err) as NodeJS.ErrnoException;
    throw new StoreError(`cannot use redis at ${redisAddress(s)}: ${e.code ?? e.message}`);
  }
  return client;
}

/** A Redis failure in the middle of a command, as one line. */
export function redisFailure(err: unknown, address: string): StoreError {
  const e = err as NodeJS.ErrnoException;
  return new StoreError(`redis at ${address}: ${e.code && !e.message.includes(e.code) ? `${e.code} ` : ''}${e.message}`);
}
