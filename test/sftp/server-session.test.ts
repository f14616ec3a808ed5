// Session lifecycle: ending, closing, protocol violations, flow control, handle cleanup.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FX, FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { serveFolder } from '../../src/local/serve-folder.js';
import { duplexPair } from './duplex-pair.js';
import { memoryLogger, quietLog, startSession, stopSession, tempDir } from './harness.js';
import { RawSftpClient } from './raw-client.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('sftp server: session lifecycle', () => {
  const tmp = tempDir('sftp-session-');
  before(() => writeFileSync(join(tmp.path, 'f.bin'), Buffer.alloc(1024 * 1024, 3)));
  after(() => tmp.cleanup());

  it('ends its side when the client ends, after closing every handle', async () => {
    const fds = openFds();
    const t = await startSession(tmp.path);
    for (let i = 0; i < 5; i++) await t.client.open('f.bin', FXF.READ);
    await t.client.opendir('/');
    assert.equal(t.session.openHandles, 6);
    assert.ok(openFds() >= fds + 6);
    await stopSession(t);
    assert.equal(t.session.openHandles, 0);
    assert.equal(openFds(), fds);
  });

  it('answers requests already sent before the client ended its side', async () => {
    const t = await startSession(tmp.path);
    const replies = Promise.all([t.client.stat('f.bin'), t.client.realpath('.')]);
    t.client.end();
    const [st, rp] = await replies;
    assert.equal(st.attrs!.size, 1024 * 1024);
    assert.equal(rp.names![0]!.name, '/');
    await t.session.done;
    await t.client.endedPromise;
  });

  it('close() ends the stream and releases handles', async () => {
    const fds = openFds();
    const t = await startSession(tmp.path);
    await t.client.open('f.bin', FXF.READ);
    t.session.close();
    await t.session.done;
    await t.client.endedPromise;
    assert.equal(openFds(), fds);
  });

  it('closes the session (and logs) on an oversized packet', async () => {
    const { log, lines } = memoryLogger();
    const fds = openFds();
    const t = await startSession(tmp.path, { log, maxPacketBytes: 64 * 1024 });
    await t.client.open('f.bin', FXF.READ);
    const big = Buffer.alloc(8);
    big.writeUInt32BE(64 * 1024 + 1, 0);
    t.client.sendRaw(big);
    await t.session.done;
    await t.client.endedPromise;
    assert.ok(lines().some((l) => l.level === 40 && l.length === 64 * 1024 + 1), JSON.stringify(lines()));
    assert.equal(openFds(), fds);
  });

  for (const [name, packets] of [
    ['a request before INIT', [new PacketWriter(FXP.OPEN).u32(1).string('x').u32(1).u32(0).finish()]],
    ['a second INIT', [new PacketWriter(FXP.INIT).u32(3).finish(), new PacketWriter(FXP.INIT).u32(3).finish()]],
    ['a request without id', [new PacketWriter(FXP.INIT).u32(3).finish(), new PacketWriter(FXP.STAT).u8(1).finish()]],
    ['a zero length', [new PacketWriter(FXP.INIT).u32(3).finish(), Buffer.alloc(4)]],
  ] as const) {
    it(`closes the session on ${name}`, async () => {
      const [a, b] = duplexPair();
      const session = serveFolder(b, { root: tmp.path, log: quietLog });
      const client = new RawSftpClient(a);
      for (const pkt of packets) client.sendRaw(pkt);
      await session.done;
      await client.endedPromise;
    });
  }

  it('closes at once when the folder cannot be served', async () => {
    const [a, b] = duplexPair();
    const { log, lines } = memoryLogger();
    const session = serveFolder(b, { root: join(tmp.path, 'missing'), log });
    const client = new RawSftpClient(a);
    await session.done;
    await client.endedPromise;
    assert.ok(lines().some((l) => l.level === 50));
  });

  it('stops reading requests while the client does not read replies', async () => {
    const [clientEnd, serverEnd] = duplexPair();
    const session = serveFolder(serverEnd, { root: tmp.path, log: quietLog, maxInflight: 16 });
    const c = await RawSftpClient.connect(clientEnd);
    const t = { client: c, session };
    const h = (await c.open('f.bin', FXF.READ)).handle!;
    c.stream.pause(); // the client stops reading replies
    const n = 400; // 400 x 64 KiB of replies, far beyond every buffer on the way
    const replies: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) replies.push(c.read(h, (i % 16) * 65536, 65536));
    await sleep(200);
    const sent = t.session.counters.bytesDown;
    assert.ok(sent < (n / 2) * 65536, `server kept producing: ${sent}`);
    assert.ok(serverEnd.isPaused(), 'server stopped reading input');
    c.stream.resume();
    const all = (await Promise.all(replies)) as Array<{ type: number }>;
    assert.ok(all.every((r) => r.type === FXP.DATA));
    assert.equal(t.session.counters.bytesDown, n * 65536);
    await stopSession(t);
  });

  it('serves data buffered before it started, even on a paused stream', async () => {
    const [a, b] = duplexPair();
    a.write(new PacketWriter(FXP.INIT).u32(3).finish());
    b.pause();
    await sleep(10);
    const session = serveFolder(b, { root: tmp.path, log: quietLog });
    const client = new RawSftpClient(a);
    const version = new Promise((resolve) => a.once('data', resolve));
    assert.ok(await version);
    client.end();
    await session.done;
  });

  it('reports exit status 0 on an SSH channel before ending it (1 after a violation)', async () => {
    for (const [bad, want] of [
      [false, 0],
      [true, 1],
    ] as const) {
      const [a, b] = duplexPair();
      const events: string[] = [];
      Object.assign(b, { exit: (code: number) => events.push(`exit ${code}`) });
      b.on('finish', () => events.push('end'));
      const session = serveFolder(b, { root: tmp.path, log: quietLog });
      const client = await RawSftpClient.connect(a);
      if (bad) client.sendRaw(Buffer.alloc(4));
      else client.end();
      await session.done;
      await client.endedPromise;
      assert.deepEqual(events, [`exit ${want}`, 'end']);
    }
  });

  it('keeps per-request errors inside their reply', async () => {
    const t = await startSession(tmp.path);
    const c = t.client;
    const rs = await Promise.all([c.stat('nope'), c.stat('f.bin'), c.open('nope/x', FXF.READ), c.realpath('/')]);
    assert.deepEqual(
      rs.map((r) => r.code ?? r.type),
      [FX.NO_SUCH_FILE, FXP.ATTRS, FX.NO_SUCH_FILE, FXP.NAME],
    );
    await stopSession(t);
  });
});
