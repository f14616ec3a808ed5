// A Lua script run by its SHA1 (EVALSHA), so thousands of calls do not each send the script text.
// Redis forgets scripts on restart or SCRIPT FLUSH: on NOSCRIPT the script is loaded and the call
// sent again.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async load(redis: Redis): Promise<void> {
    await redis.script('LOAD', this.lua);
  }

  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      await this.load(redis);
      return redis.evalsha(this.sha, keys.length, ...keys, ...args);
    }
  }
}
