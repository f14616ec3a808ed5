// --audit-stream with a real Redis: the stream stays near its MAXLEN, and a hung Redis (SIGSTOP)
// neither slows a transfer nor holds events without bound: they are dropped past the queue,
// counted, logged once per outage, and the stream is written again when Redis answers.
// Local mode with a users file, so Redis is there for the stream alone (logins do not need it).
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { sha256File, writeRandomFile } from '../harness/index.js';
import { FX, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { openssh, raw } from './clients.js';
import { startTarget, type PolicyTarget, type PolicyUser } from './targets.js';

const STREAM = 'audit:events';
const MAXLEN = 50;

/** `n` denied requests (REMOVE by a read-only user) pipelined in one write; resolves when all are answered. */
async function deniedBurst(t: PolicyTarget, u: PolicyUser, n: number): Promise<number> {
  const s = await raw(t, u);
  try {
    const started = Date.now();
    const replies: Array<Promise<{ code?: number }>> = [];
    const packets: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const id = 1000 + i;
      const p = new PacketWriter(FXP.REMOVE, 32).u32(id).string(`f${i}`).finish();
      packets.push(p);
      replies.push(s.sftp.requestRaw(id, Buffer.alloc(0))); // the waiter only: the packets leave in one write below
    }
    s.sftp.sendRaw(Buffer.concat(packets));
    const codes = await Promise.all(replies);
    assert.ok(codes.every((r) => r.code === FX.PERMISSION_DENIED));
    return Date.now() - started;
  } finally {
    s.end();
  }
}

/** Upload then download `file` with OpenSSH sftp, byte-checked; the elapsed ms. */
async function transfer(t: PolicyTarget, u: PolicyUser, cwd: string, file: string, sum: string): Promise<number> {
  const started = Date.now();
  const res = await openssh(t, u, [`put ${file} big.bin`, 'get big.bin back.bin'], cwd);
  const ms = Date.now() - started;
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await sha256File(join(cwd, 'back.bin')), sum);
  return ms;
}

describe('--audit-stream with a real Redis', () => {
  let withStream: PolicyTarget;
  let without: PolicyTarget;
  let cwd: string;
  let file: string;
  let sum: string;
  before(async () => {
    const users = { all: {}, ro: { permissions: 'read-only' } };
    withStream = await startTarget('local', users, { redis: true, args: ['--audit-stream', STREAM, '--audit-stream-maxlen', String(MAXLEN)] });
    without = await startTarget('local', users);
    // Small stream nodes, so that "MAXLEN ~" trims close to the bound (Redis trims whole nodes).
    await withStream.redis!.client(1).config('SET', 'stream-node-max-entries', '10');
    cwd = join(withStream.tmp, 'client');
    await mkdir(cwd);
    file = join(cwd, 'big.bin');
    sum = await writeRandomFile(file, 8 * 1024 * 1024);
  });
  after(async () => {
    if (withStream?.redis) process.kill(withStream.redis.pid, 'SIGCONT');
    await withStream?.close();
    await without?.close();
  });

  test('the stream is trimmed near --audit-stream-maxlen and keeps the newest events', async () => {
    await deniedBurst(withStream, withStream.user('ro'), 300);
    const db = withStream.redis!.client(1);
    let last: Array<[string, string[]]> = [];
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(50)) {
      last = await db.xrevrange(STREAM, '+', '-', 'COUNT', 1);
      if (last[0]?.[1].includes('f299')) break;
    }
    assert.ok(last[0]?.[1].includes('f299'), 'the newest event is in the stream');
    const len = await db.xlen(STREAM);
    assert.ok(len >= MAXLEN && len <= MAXLEN + 10, `stream length ${len}, maxlen ${MAXLEN}`);
  });

  test('a hung Redis (SIGSTOP) slows no transfer; events past the queue are dropped, counted, logged once', async (tc) => {
    const all = withStream.user('all');
    const allWithout = without.user('all');
    // The same transfers without a stream, then with the stream's Redis hung.
    const baseline = await transfer(without, allWithout, cwd, file, sum);
    const baselineBurst = await deniedBurst(without, without.user('ro'), 12_000);
    const mark = withStream.mark();
    process.kill(withStream.redis!.pid, 'SIGSTOP');
    let hung: number;
    let hungBurst: number;
    try {
      hung = await transfer(withStream, all, cwd, file, sum);
      // More events than the queue holds (10 000).
      hungBurst = await deniedBurst(withStream, withStream.user('ro'), 12_000);
      await deniedBurst(withStream, withStream.user('ro'), 500);
    } finally {
      process.kill(withStream.redis!.pid, 'SIGCONT');
    }
    tc.diagnostic(`8 MiB put+get: ${baseline} ms without a stream, ${hung} ms with its Redis hung; 12 000 denials: ${baselineBurst} / ${hungBurst} ms`);
    // Generous bounds: what matters is that nothing waits for Redis.
    assert.ok(hung < 3 * baseline + 3000, `transfer with Redis hung ${hung} ms, without a stream ${baseline} ms`);
    assert.ok(hungBurst < 3 * baselineBurst + 3000, `12 000 denials with Redis hung ${hungBurst} ms, without a stream ${baselineBurst} ms`);
    const warned = withStream.logs(mark).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('audit stream: redis is not keeping up'));
    assert.equal(warned.length, 1, 'the drops are logged once');
    // Redis answers again: the count of what was dropped, and the stream is written again.
    const again = await withStream.waitFor((l) => l.msg === 'audit stream: writing again', mark, 15_000);
    assert.ok(typeof again.dropped === 'number' && again.dropped >= 2000 && again.dropped <= 12_500, `dropped ${again.dropped}`);
    await deniedBurst(withStream, withStream.user('ro'), 1);
    const db = withStream.redis!.client(1);
    let newest = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline && !newest.includes('"f0"'); await sleep(50)) {
      newest = JSON.stringify(await db.xrevrange(STREAM, '+', '-', 'COUNT', 1));
    }
    assert.match(newest, /"f0"/, 'events reach the stream again');
    assert.equal((await readFile(join(all.dir, 'big.bin'))).length, 8 * 1024 * 1024);
  });
});
