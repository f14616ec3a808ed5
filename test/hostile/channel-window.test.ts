/**
 * A logged-in client that ignores SSH flow control must not make the server buffer without bound.
 * The client stops reading its channel (so our replies back up and we stop reading its requests),
 * then keeps sending channel data past the window we granted, writing SSH packets itself the way
 * a hostile client would. Stock ssh2 took everything once one packet had taken the window below
 * zero; the patch ends the connection at the first byte past the window. Both modes: in proxy
 * mode the stall travels through the upstream sftp-server, whose output backs up the same way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { FXF, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { startLocalTarget, type LocalTarget } from '../clients/fixtures/local-target.js';
import { startProxyTarget, type ProxyTarget } from '../clients/fixtures/proxy-target.js';
import { openSftp, roundTrip } from '../faults/helpers.js';
import { adminPort, scrape } from '../harness/index.js';
import { settlesWithin } from '../ops-core/clients.js';
import { RawSftpClient } from '../sftp/raw-client.js';
import { remotePath } from '../clients/target.js';

const READ_LEN = 255 * 1024;

/** What ssh2 keeps of a channel and its connection's packet writer (not in its types). */
type RawChannel = ssh2.ClientChannel & { outgoing: { id: number } };
type RawConn = ssh2.Client & { _protocol: { channelData(id: number, data: Buffer): void } };

for (const mode of ['local', 'proxy'] as const) {
  describe(`${mode} mode: a client that ignores the channel window`, () => {
    let target: LocalTarget | ProxyTarget;
    let admin: number;
    before(async () => {
      target = mode === 'proxy'
        ? await startProxyTarget({ proxyEnv: { SFTPPROXY_ADMIN_LISTEN: '127.0.0.1:0' } })
        : await startLocalTarget('alice', ['--admin-listen', '127.0.0.1:0']);
      admin = await adminPort(target.proxy);
    });
    after(async () => { await target?.close(); });

    test('is disconnected once it sends past the window; the process and other sessions go on', { timeout: 60_000 }, async () => {
      await writeFile(join(target.remoteDir, 'big.bin'), randomBytes(1024 * 1024));
      const live = await openSftp(target);
      const hostile = await openSftp(target);
      try {
        const since = target.logs().length;
        const conn = hostile.conn as RawConn;
        const channel = await new Promise<RawChannel>((resolve, reject) =>
          conn.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch as RawChannel))));
        const raw = await RawSftpClient.connect(channel);
        const opened = await raw.open(remotePath(target, 'big.bin'), FXF.READ);
        assert.equal(opened.type, FXP.HANDLE, 'the file opens');
        // Stop reading, then ask for 16 MiB of replies: our output backs up, the server stops
        // reading (and crediting) this channel.
        channel.pause();
        for (let i = 0; i < 64; i++) {
          raw.sendRaw(new PacketWriter(FXP.READ).u32(100_000 + i).string(opened.handle!).u64(0).u32(READ_LEN).finish());
        }
        await new Promise((r) => setTimeout(r, 500));
        // Now ignore the window: up to 32 MiB of channel data, written as SSH packets directly
        // (queued by ssh2 at once: how much is queued before the close arrives says nothing).
        // Well-formed READs, so the SFTP session stays open and whatever it takes in asks for
        // more output: a session closed for bad framing would drop its input and hide the test.
        let closed = false;
        hostile.closed.then(() => { closed = true; }, () => { closed = true; });
        const read = new PacketWriter(FXP.READ).u32(7).string(opened.handle!).u64(0).u32(READ_LEN).finish();
        const junk = Buffer.concat(Array(Math.floor(30_000 / read.length)).fill(read));
        let sent = 0;
        for (let i = 0; i < 1100 && !closed; i++) {
          conn._protocol.channelData(channel.outgoing.id, junk);
          sent += junk.length;
          if (i % 32 === 31) await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(await settlesWithin(hostile.closed, 10_000), `still connected after ${(sent / 1048576).toFixed(1)} MiB past a paused channel; logged: ${
          target.logs().slice(since).map((l) => String(l.msg)).join(' | ')}`);
        await target.waitForLog((l) => l.msg === 'connection closed: the client ignored the channel window', 5000, since);
        assert.equal((await scrape(admin)).value('pysftpproxy_connections_closed_total', { reason: 'flow-control' }), 1);

        await roundTrip(live.sftp, 'after-window.bin', 256 * 1024); // the other session still moves bytes
        const fresh = await openSftp(target);
        fresh.end();
      } finally {
        hostile.end();
        live.end();
      }
      target.proxy.assertNoBugs();
    });
  });
}
