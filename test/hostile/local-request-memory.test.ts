// Sibling of issue #11, 3, on the input side: requests were admitted up to a count (64 per
// session) whatever their size, so a client could park 64 packets of 256 KiB per session (16 MiB)
// behind one request that cannot finish, here READs whose replies it never reads. Now a session
// stops reading input once the requests it holds pass 2 MiB (one is always admitted).
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FX, FXF } from '../../src/sftp/protocol/constants.js';
import { serveFolder } from '../../src/local/serve-folder.js';
import { duplexPair } from '../sftp/duplex-pair.js';
import { quietLog, tempDir } from '../sftp/harness.js';
import { RawSftpClient } from '../sftp/raw-client.js';

const MiB = 1024 * 1024;
const DATA = 255 * 1024; // a READ or WRITE as large as limits@openssh.com allows

describe('requests parked behind ones that cannot finish', () => {
  const tmp = tempDir('hostile-requests-');
  before(() => {
    writeFileSync(join(tmp.path, 'big'), '');
    truncateSync(join(tmp.path, 'big'), 64 * MiB); // sparse
  });
  after(() => tmp.cleanup());

  it('are not read from the client past a few MiB', async () => {
    // Streams buffering like ssh2's channels (2 MiB), so only what the session takes in counts.
    const [clientEnd, serverEnd] = duplexPair(2 * MiB);
    const session = serveFolder(serverEnd, { root: tmp.path, log: quietLog });
    const c = await RawSftpClient.connect(clientEnd);
    const r = (await c.open('big', FXF.READ)).handle!;
    const w = (await c.open('up', FXF.WRITE | FXF.CREAT)).handle!;
    clientEnd.pause(); // replies are never read from here on
    const queued = clientEnd.writableLength;
    // READs whose replies fill the channel (some then wait for room), a serial request that
    // waits for them, and uploads queued behind it: 64 requests, as many as a session admits.
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 24; i++) all.push(c.read(r, i * DATA, DATA));
    all.push(c.fsetstat(w, { atime: 1, mtime: 1 }));
    const payload = Buffer.alloc(DATA, 7);
    for (let i = 0; i < 39; i++) all.push(c.write(w, i * DATA, payload));
    const written = 24 * 29 + 25 + 39 * (DATA + 29) - queued; // the packets' sizes
    await sleep(500);
    const accepted = written - clientEnd.writableLength;
    // 2 MiB of requests held, plus the 2 MiB the server's stream buffers before it is read.
    assert.ok(written > 9 * MiB, `${written} bytes sent`);
    assert.ok(accepted < 5 * MiB, `the server took in ${(accepted / MiB).toFixed(1)} MiB of requests`);

    // Once the client reads again, everything completes.
    clientEnd.resume();
    await Promise.all(all);
    assert.equal((await c.fstat(w)).attrs!.size, 39 * DATA);
    assert.equal((await c.close(w)).code, FX.OK);
    c.end();
    await session.done;
  });
});
