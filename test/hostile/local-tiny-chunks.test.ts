// A packet sent one byte per SSH message: each byte arrived as its own Buffer and the framer kept
// them all until the packet was whole, about 200 bytes of memory per byte sent (4 sessions x
// 100 KB grew the product's RSS by 79-81 MiB before the fix, 11-12 MiB after). Small chunks are
// now copied together.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type ssh2 from 'ssh2';
import { rssKiB } from '../faults/helpers.js';
import { RawSftpClient } from '../sftp/raw-client.js';
import { sftpChannel, startLocalProduct, type LocalProduct } from './local-product.js';

const SESSIONS = 4;
const BYTES = 100_000;

describe('a packet trickled in one byte per SSH message (product, local mode)', () => {
  let p: LocalProduct;
  let conn: ssh2.Client | undefined;
  before(async () => { p = await startLocalProduct(['dora']); });
  after(async () => {
    conn?.end();
    await p?.close();
  });

  it('costs about what was sent, not hundreds of bytes per byte', { timeout: 60_000 }, async () => {
    conn = await p.login('dora');
    const baseline = rssKiB(p.proxy.pid);
    const one = Buffer.from([6]);
    for (let s = 0; s < SESSIONS; s++) {
      const ch = await sftpChannel(conn);
      await RawSftpClient.connect(ch);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(200 * 1024); // a WRITE that never completes
      ch.write(length);
      for (let i = 0; i < BYTES; i++) if (!ch.write(one)) await new Promise((r) => ch.once('drain', r));
    }
    await sleep(1000);
    const grownMiB = (rssKiB(p.proxy.pid) - baseline) / 1024;
    // 11-12 MiB on a quiet machine; GC lags on a loaded one (26 MiB seen), and before the fix it was 79-81.
    assert.ok(grownMiB < 40, `RSS grew by ${grownMiB.toFixed(1)} MiB for ${SESSIONS * BYTES} bytes sent`);
  });
});
