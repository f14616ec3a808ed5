// Issue #11, 3: READ replies in flight were bounded only by the request count. A client that
// pipelines 64 READs of 256 KiB on each of its 10 sessions and never reads the replies made local
// mode hold them all: the product's RSS grew by 137-140 MiB for that one connection (this test,
// run twice before the fix). Each session now issues disk reads only while the replies it holds
// (read, or waiting in its stream) stay within 2 MiB: 36-44 MiB in three runs after it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type ssh2 from 'ssh2';
import { FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { rssKiB } from '../faults/helpers.js';
import { startSession, stopSession, tempDir } from '../sftp/harness.js';
import { RawSftpClient } from '../sftp/raw-client.js';
import { sftpChannel, startLocalProduct, type LocalProduct } from './local-product.js';

const READ_LEN = 256 * 1024 - 1024; // what limits@openssh.com offers
const SESSIONS = 10;
const READS = 64;

describe('READ replies a client does not read (product, local mode)', () => {
  let p: LocalProduct;
  let conn: ssh2.Client | undefined;
  before(async () => {
    p = await startLocalProduct(['dora']);
    const big = join(p.folder('dora'), 'big');
    writeFileSync(big, '');
    truncateSync(big, READS * READ_LEN); // sparse: no disk needed
  });
  after(async () => {
    conn?.end();
    await p?.close();
  });

  it('hold a bounded amount of memory however many are asked for', { timeout: 60_000 }, async () => {
    conn = await p.login('dora');
    const baseline = rssKiB(p.proxy.pid);
    for (let s = 0; s < SESSIONS; s++) {
      const ch = await sftpChannel(conn);
      const c = await RawSftpClient.connect(ch);
      const h = await c.open('big', FXF.READ);
      assert.equal(h.type, FXP.HANDLE);
      ch.pause(); // from here on nothing is read: the SSH window fills and stays full
      for (let i = 0; i < READS; i++) void c.read(h.handle!, i * READ_LEN, READ_LEN);
    }
    // The server reads what it will within a second or two; take the peak over a while.
    let peak = baseline;
    for (let i = 0; i < 30; i++) {
      await sleep(100);
      peak = Math.max(peak, rssKiB(p.proxy.pid));
    }
    const grownMiB = (peak - baseline) / 1024;
    // Bounded: 10 sessions x (2 MiB window on its way out + 2 MiB held), plus garbage not yet collected.
    assert.ok(grownMiB < 80, `RSS grew by ${grownMiB.toFixed(1)} MiB for one connection`);
  });
});

describe('READs waiting for room (in process)', () => {
  it('all complete, in any order, when far more are asked for than the budget holds', async () => {
    const tmp = tempDir('hostile-reads-');
    const data = randomBytes(64 * 32 * 1024);
    writeFileSync(join(tmp.path, 'f'), data);
    const t = await startSession(tmp.path, { readBudgetBytes: 100_000 }); // three 32 KiB reads at a time
    try {
      const h = (await t.client.open('f', FXF.READ)).handle!;
      const order = Array.from({ length: 64 }, (_, i) => (i * 37) % 64);
      const got = await Promise.all(order.map((i) => t.client.read(h, i * 32 * 1024, 32 * 1024)));
      const back = Buffer.alloc(data.length);
      got.forEach((r, k) => r.data!.copy(back, order[k]! * 32 * 1024));
      assert.ok(back.equals(data));
      assert.equal((await t.client.read(h, data.length, 32 * 1024)).code, FX.EOF);
    } finally {
      await stopSession(t);
      tmp.cleanup();
    }
  });
});
