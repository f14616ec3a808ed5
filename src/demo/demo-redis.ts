// `npm run demo -- --redis`: a private redis-server (loopback, no persistence, its files in the
// demo's folder) holding the demo's users in the real pysftpproxy schema.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import type { OwnedProcesses } from './owned-processes.js';

export const REDIS_DB = 1;
const START_TIMEOUT_MS = 10_000;

/** One user as the proxy schema stores it: a key blob naming the user, and the route hash. */
export interface RedisUser {
  name: string;
  blob: string;
  route: Record<string, string>;
}

export function redisServerOnPath(): boolean {
  return (process.env['PATH'] ?? '').split(path.delimiter).some((d) => d !== '' && fs.existsSync(path.join(d, 'redis-server')));
}

export async function startDemoRedis(dir: string, owned: OwnedProcesses): Promise<{ port: number }> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const { child, output } = owned.spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log')]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    const up = await probe.connect().then(() => probe.ping(), () => undefined).finally(() => probe.disconnect());
    if (up === 'PONG') return { port };
    if (child.exitCode !== null || Date.now() > deadline) {
      await owned.stop(child);
      throw new Error(`redis-server did not start on port ${port}: ${output().trim().split('\n').slice(-2).join(' / ') || 'no output'}`);
    }
    await sleep(50);
  }
}

/** `pysftpproxy:pubkey:<blob>` → name and `pysftpproxy:user:<name>` → route, replacing what was there. */
export async function writeRedisUsers(port: number, users: readonly RedisUser[]): Promise<void> {
  const db = new Redis({ port, host: '127.0.0.1', db: REDIS_DB, maxRetriesPerRequest: 1 });
  try {
    const tx = db.multi();
    for (const u of users) {
      tx.set(`pysftpproxy:pubkey:${u.blob}`, u.name);
      tx.del(`pysftpproxy:user:${u.name}`).hset(`pysftpproxy:user:${u.name}`, u.route);
    }
    await tx.exec();
  } finally {
    db.disconnect();
  }
}
