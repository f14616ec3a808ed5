/** Shared setup for the redis-solt store tests: a private redis-server, an admin client, a store factory. */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisSoltStore, SOLT_USERS_KEY, soltKeysKey, soltUserKey, type RedisSoltOptions } from '../../src/auth/redis-solt-store.js';
import { createRedis } from '../../src/redis/redis-connection.js';
import { makeTempDir, startRedis, type RedisHandle, type TempDir } from '../harness/index.js';
import { captureLog, type CapturedLog } from './helpers.js';

export interface SoltSetup {
  redis: RedisHandle;
  admin: Redis;
  sftpPath: string;
  tmp: TempDir;
  cap: CapturedLog;
  /** A store on the shared connection. */
  make(opts?: Partial<RedisSoltOptions>): RedisSoltStore;
  /** A store on a connection of its own: what another process sees. */
  makeSeparate(opts?: Partial<RedisSoltOptions>): RedisSoltStore;
}

/** A private redis-server, an admin client on db 1, a captured logger and a store factory; all cleaned up. */
export async function soltSetup(t: TestContext, opts: { redisDown?: boolean } = {}): Promise<SoltSetup> {
  const redis = await startRedis();
  const tmp = await makeTempDir('solt-store-');
  const cap = captureLog();
  if (opts.redisDown) await redis.stop();
  const connect = (): Redis => createRedis({ redisHost: '127.0.0.1', redisPort: redis.port, redisDb: 1 }, cap.log, 'serving the last known users');
  const conn = connect();
  const conns: Redis[] = [conn];
  const stores: RedisSoltStore[] = [];
  t.after(async () => {
    for (const s of stores) await s.close();
    for (const c of conns) c.disconnect();
    await redis.close();
    await tmp.cleanup();
  });
  const sftpPath = join(tmp.path, 'files');
  const build = (c: Redis, o: Partial<RedisSoltOptions>): RedisSoltStore => {
    const s = new RedisSoltStore(c, { sftpPath, channel: 'sftp_users', ...o }, cap.log);
    stores.push(s);
    return s;
  };
  return {
    redis,
    admin: redis.client(1),
    sftpPath,
    tmp,
    cap,
    make: (o = {}) => build(conn, o),
    makeSeparate(o = {}) {
      const c = connect();
      conns.push(c);
      return build(c, o);
    },
  };
}

/** Replace user `id` (hash and keys) and add it to the users set, in one transaction. */
export async function addUser(admin: Redis, id: string, fields: Record<string, string>, keys: Array<string | Buffer>): Promise<void> {
  const m = admin.multi().sadd(SOLT_USERS_KEY, id).del(soltUserKey(id), soltKeysKey(id)).hset(soltUserKey(id), fields);
  if (keys.length) m.sadd(soltKeysKey(id), ...keys);
  const res = await m.exec();
  for (const [err] of res ?? []) if (err) throw err;
}

export async function isDir(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}
