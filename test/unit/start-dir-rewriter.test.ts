import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartDirRewriter } from '../../src/proxy/start-dir-rewriter.js';

function packet(type: number, id: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32BE(5 + payload.length, 0);
  head[4] = type;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
}
const str = (s: string) => { const b = Buffer.from(s); const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
const realpath = (id: number, p: string) => packet(16, id, str(p));

/** Feeds `input` in pieces of `step` bytes and returns everything the rewriter emits. */
async function run(home: string, input: Buffer, step: number): Promise<Buffer> {
  const rw = new StartDirRewriter(home);
  const out: Buffer[] = [];
  rw.on('data', (b: Buffer) => out.push(b));
  for (let i = 0; i < input.length; i += step) rw.write(input.subarray(i, i + step));
  rw.end();
  await new Promise((r) => rw.on('end', r));
  return Buffer.concat(out);
}

test('REALPATH of "." and "" become REALPATH of home; everything else is untouched', async () => {
  const init = Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3]);
  const write = packet(6, 7, Buffer.concat([str('h'), Buffer.alloc(8), str('x'.repeat(40000))]));
  const other = realpath(9, '/etc');
  const input = Buffer.concat([init, realpath(1, '.'), write, other, realpath(2, '')]);
  const expected = Buffer.concat([init, realpath(1, '/srv/home'), write, other, realpath(2, '/srv/home')]);
  for (const step of [1, 3, 7, 4096, input.length]) {
    assert.deepEqual(await run('/srv/home', input, step), expected, `split every ${step} bytes`);
  }
});

test('a REALPATH whose string length disagrees with the packet length is passed on as is', async () => {
  const bad = realpath(3, '.');
  bad.writeUInt32BE(99, 9);
  assert.deepEqual(await run('/h', bad, 1), bad);
});
