// WRITEs on a handle opened for APPEND land at the end of the file in the order they were sent:
// the kernel appends each pwrite wherever the file ends then, so WRITEs run side by side (as
// pipelined writes on ordinary handles are) came out reordered. OpenSSH's `reput` opens with
// APPEND and pipelines 64 writes; it once left a scrambled file under load.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FXF } from '../../src/sftp/protocol/constants.js';
import { startSession, stopSession, tempDir } from './harness.js';

describe('APPEND handles', () => {
  const tmp = tempDir('append-order-');
  after(() => tmp.cleanup());

  it('400 pipelined 16 KiB appends land in the order sent', async () => {
    const t = await startSession(tmp.path);
    const open = await t.client.open('log.bin', FXF.WRITE | FXF.CREAT | FXF.APPEND);
    const handle = open.handle!;
    const chunk = (i: number) => Buffer.alloc(16 * 1024, i % 251);
    // Offsets as a resuming client sends them; the server must ignore them and append in order.
    const replies = await Promise.all(Array.from({ length: 400 }, (_, i) => t.client.write(handle, i * 16 * 1024, chunk(i))));
    for (const r of replies) assert.equal(r.code, 0);
    await t.client.close(handle);
    await stopSession(t);
    const data = readFileSync(join(tmp.path, 'log.bin'));
    assert.equal(data.length, 400 * 16 * 1024);
    const order: number[] = [];
    for (let i = 0; i < 400; i++) order.push(data[i * 16 * 1024]!);
    assert.deepEqual(order, Array.from({ length: 400 }, (_, i) => i % 251));
  });
});
