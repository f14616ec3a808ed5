/** Shared bits for the user store tests: a pino logger whose lines we can read, polling, keys. */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import type { AuthDecision, ClientKey, StoredUser, UserStore } from '../../src/auth/user-store.js';
import type { GeneratedKey } from '../harness/index.js';

export type LogLine = Record<string, unknown> & { msg: string; level: number };

export interface CapturedLog {
  log: Logger;
  lines: LogLine[];
  /** Lines with this msg (and matching every given field). */
  find(msg: string, fields?: Record<string, unknown>): LogLine[];
}

export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug', base: undefined }, {
    write(chunk: string) {
      for (const l of chunk.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
    },
  });
  const find = (msg: string, fields: Record<string, unknown> = {}): LogLine[] =>
    lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  return { log, lines, find };
}

/** Poll `check` until it returns a truthy value; fail with `what` (and the last value) after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(50);
  }
}

export function clientKey(k: GeneratedKey): ClientKey {
  return { algo: k.algorithm, data: Buffer.from(k.blobBase64, 'base64') };
}

/** Poll authorize until the decision satisfies `pred`. */
export function waitForDecision(store: UserStore, user: string, key: GeneratedKey, what: string,
    pred: (d: AuthDecision) => boolean, timeoutMs = 10_000): Promise<AuthDecision> {
  return waitFor(what, async () => {
    const d = await store.authorize(user, clientKey(key));
    return pred(d) ? d : undefined;
  }, timeoutMs) as Promise<AuthDecision>;
}

export const accepted = (d: AuthDecision): boolean => d.ok;
export const refusedWith = (reason: string) => (d: AuthDecision): boolean => !d.ok && d.reason.includes(reason);

/** The folder a local-mode user is served from (undefined for an upstream user). */
export const folderOf = (u: StoredUser): string | undefined => (u.target.kind === 'folder' ? u.target.path : undefined);
