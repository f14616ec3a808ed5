/** Shared bits for the admin CLI tests: the CLI as a process, Redis snapshots, a real subscriber. */
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { runCli, type CliResult, type RedisHandle } from '../harness/index.js';
import { waitFor } from '../stores/helpers.js';

/** `pysftpproxy ARGS...` run in `cwd` (no stray .env) with only `env` as SFTPPROXY_* settings. */
export function admin(cwd: string, env: Record<string, string> = {}) {
  return (...args: string[]): Promise<CliResult> => runCli(args, env, { cwd, timeoutMs: 20_000 });
}

export function ok(r: CliResult, pattern?: RegExp): string {
  assert.equal(r.timedOut, false, 'the CLI did not exit');
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stderr, '', 'nothing on stderr');
  if (pattern) assert.match(r.stdout, pattern);
  return r.stdout;
}

/** Exit 2, nothing on stdout, one line on stderr matching `pattern`, no stack trace. */
export function refused(r: CliResult, pattern: RegExp): string {
  assert.equal(r.timedOut, false, 'the CLI did not exit');
  assert.equal(r.code, 2, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^pysftpproxy: /);
  assert.match(lines[0]!, pattern);
  return lines[0]!;
}

/** A runner for commands that must be refused: exit 2, the line matches, the database unchanged. */
export function refusedUnchangedIn(cli: (...args: string[]) => Promise<CliResult>, db: Redis) {
  return async (pattern: RegExp, ...args: string[]): Promise<string> => {
    const before = await dumpRedis(db);
    const line = refused(await cli(...args), pattern);
    assert.deepEqual(await dumpRedis(db), before, `nothing written by ${args.join(' ')}`);
    return line;
  };
}

/** Every key of the database with its type and content: "nothing written" is this unchanged. */
export async function dumpRedis(db: Redis): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await db.keys('*')).sort()) {
    const type = await db.type(key);
    if (type === 'string') out[key] = await db.get(key);
    else if (type === 'hash') out[key] = await db.hgetall(key);
    else if (type === 'set') out[key] = (await db.smembers(key)).sort();
    else out[key] = type;
  }
  return out;
}

/**
 * A real subscriber on `channel`. Messages arrive in publish order, so "a refused command published
 * nothing" is checked by the next successful command's message being the next one seen.
 */
export class Notices {
  readonly seen: string[] = [];
  private constructor(private readonly sub: Redis) {}

  static async subscribe(redis: RedisHandle, channel: string): Promise<Notices> {
    const sub = redis.client(1);
    const n = new Notices(sub);
    sub.on('message', (ch: string, message: string) => { if (ch === channel) n.seen.push(message); });
    await sub.subscribe(channel);
    return n;
  }

  /** Waits until `messages` are the next ones after those already taken, and takes them. */
  private taken = 0;
  async next(...messages: string[]): Promise<void> {
    await waitFor(`notices ${JSON.stringify(messages)}`, () => this.seen.length >= this.taken + messages.length, 5000);
    assert.deepEqual(this.seen.slice(this.taken, this.taken + messages.length), messages, `notices after ${JSON.stringify(this.seen.slice(0, this.taken))}`);
    this.taken += messages.length;
  }

  close(): void {
    this.sub.disconnect();
  }
}
