// patches/ssh2+<version>.patch is applied at install (postinstall: patch-package). These tests fail
// when ssh2 was upgraded without the patch being refreshed, or installed with --ignore-scripts.
// The behaviour the fixes buy is asserted end to end by the client matrix and the refusal tests
// (rsa-sha2-512-only OpenSSH, asyncssh and rclone with RSA keys); the speed-ups by npm run bench.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Socket, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { generateEd25519 } from '../../src/keys/generate-ed25519.js';
import { unpatchedSsh2Files } from '../../src/runtime/ssh2-patch.js';
import { REPO_ROOT } from '../harness/index.js';

const require = createRequire(import.meta.url);
const ssh2Dir = join(require.resolve('ssh2'), '..', '..');
const patches = readdirSync(join(REPO_ROOT, 'patches')).filter((f) => f.startsWith('ssh2+'));

test('the ssh2 patch matches the installed ssh2 version', () => {
  assert.equal(patches.length, 1, `one ssh2 patch expected in patches/, found: ${patches.join(', ')}`);
  const installed = (JSON.parse(readFileSync(join(ssh2Dir, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(patches[0], `ssh2+${installed}.patch`, 'ssh2 was upgraded: re-make the patch for the new version');
});

test('the ssh2 patch is applied: server-sig-algs lists rsa-sha2-512, PK_OK echoes the asked algorithm', async () => {
  const protocol = readFileSync(join(ssh2Dir, 'lib/protocol/Protocol.js'), 'utf8');
  assert.match(protocol, /'ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,'\s*\+ 'rsa-sha2-512,/);
  const server = readFileSync(join(ssh2Dir, 'lib/server.js'), 'utf8');
  assert.match(server, /this\.hashAlgo === 'sha512'\) algo = 'rsa-sha2-512'/);
});

test('the ssh2 patch is applied: pooled padding bytes, one socket write per tick', () => {
  const crypto = readFileSync(join(ssh2Dir, 'lib/protocol/crypto.js'), 'utf8');
  assert.doesNotMatch(crypto, /randomFillSync\(packet, 5 \+ payloadLen, padLen\)/, 'no per-packet randomFillSync left');
  assert.equal(crypto.match(/fillPadding\(packet, 5 \+ payloadLen, padLen\)/g)?.length, 7, 'every cipher pads from the pool');
  for (const file of ['lib/server.js', 'lib/client.js']) {
    assert.match(readFileSync(join(ssh2Dir, file), 'utf8'), /process\.nextTick\(uncorkSocket, /, `${file} corks its socket per tick`);
  }
});

test('the ssh2 patch is applied: window credit once 3 packets arrived, not once half the window was used', async () => {
  const { SESSION_WINDOW, PACKET_SIZE } = require('ssh2/lib/Channel.js') as { SESSION_WINDOW: number; PACKET_SIZE: number };
  const sent = 4 * PACKET_SIZE;
  let received = 0;
  const server = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        acceptExec().on('data', (d: Buffer) => { received += d.length; });
      });
    });
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  try {
    const channel = await new Promise<ssh2.ClientChannel & { outgoing: { window: number } }>((resolve, reject) => {
      client.on('error', reject);
      client.on('ready', () => client.exec('sink', (err, ch) => (err ? reject(err) : resolve(ch as never))));
      client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u' });
    });
    assert.equal(channel.outgoing.window, SESSION_WINDOW, 'the session window the server granted');
    channel.write(Buffer.alloc(sent));
    // 128 KiB is far from half the window: stock ssh2 sends no credit for it at all.
    const deadline = Date.now() + 2000;
    while ((received < sent || channel.outgoing.window <= SESSION_WINDOW - sent) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(received, sent);
    assert.ok(channel.outgoing.window > SESSION_WINDOW - sent,
      `the server credited the window (client's send window ${channel.outgoing.window}, ${SESSION_WINDOW - sent} without credit)`);
  } finally {
    client.end();
    await new Promise((r) => server.close(r));
  }
});

test('the ssh2 patch is applied: a 4 MiB session window, and a stalled reader holds no more than it', async () => {
  const { SESSION_WINDOW, MAX_WINDOW, PACKET_SIZE } = require('ssh2/lib/Channel.js') as { SESSION_WINDOW: number; MAX_WINDOW: number; PACKET_SIZE: number };
  assert.equal(SESSION_WINDOW, 2 * MAX_WINDOW);
  let held: ssh2.ServerChannel | undefined;
  const server = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        held = acceptExec();
        held.pause(); // a reader that never reads
      });
    });
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  try {
    const channel = await new Promise<ssh2.ClientChannel & { outgoing: { window: number } }>((resolve, reject) => {
      client.on('error', reject);
      client.on('ready', () => client.exec('sink', (err, ch) => (err ? reject(err) : resolve(ch as never))));
      client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u' });
    });
    channel.write(Buffer.alloc(3 * SESSION_WINDOW));
    const deadline = Date.now() + 5000;
    while ((channel.outgoing.window > 0 || !held) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200)); // a credit still on its way would show now
    assert.equal(channel.outgoing.window, 0, 'the sender is stopped by the window');
    // Stock ssh2 (2 MiB readable buffer, credit until it is full) holds up to 4 MiB here too, but
    // with half the window; the 64 KiB buffer keeps the total where it was.
    assert.ok(held!.readableLength <= SESSION_WINDOW + 2 * PACKET_SIZE + PACKET_SIZE, `the stalled reader holds ${held!.readableLength} bytes`);
    assert.ok(held!.readableLength >= SESSION_WINDOW - PACKET_SIZE, `${held!.readableLength} bytes arrived: the whole window was usable`);
  } finally {
    client.end();
    await new Promise((r) => server.close(r));
  }
});

test('the ssh2 patch is applied: a peer that sends past the window is disconnected, whichever end it is', async () => {
  type Raw = { _protocol: { channelData(id: number, data: Buffer): void } };
  type Chan = { outgoing: { id: number }; pause(): void };
  const junk = Buffer.alloc(30_000); // not a divisor of the window: stock ssh2 checked for exactly 0
  const flood = async (conn: Raw, ch: Chan, stop: () => boolean): Promise<number> => {
    let sent = 0;
    for (let i = 0; i < 1000 && !stop(); i++) {
      conn._protocol.channelData(ch.outgoing.id, junk);
      sent += junk.length;
      if (i % 32 === 31) await new Promise((r) => setTimeout(r, 5));
    }
    return sent;
  };
  for (const hostile of ['client', 'server'] as const) {
    let serverErr: (Error & { code?: string }) | undefined;
    let serverSide: { conn: Raw; ch: Chan } | undefined;
    const server = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (conn) => {
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          const ch = acceptExec();
          ch.pause(); // a reader that never reads: no credit once its buffer is full
          serverSide = { conn: conn as unknown as Raw, ch: ch as unknown as Chan };
        });
      });
      conn.on('error', (err) => { serverErr = err; });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new ssh2.Client();
    let clientErr: (Error & { code?: string }) | undefined;
    let closed = false;
    client.on('close', () => { closed = true; });
    try {
      const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
        client.once('error', reject);
        client.on('ready', () => client.exec('x', (err, ch) => (err ? reject(err) : resolve(ch))));
        client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u' });
      });
      client.on('error', (err) => { clientErr = err; });
      while (!serverSide) await new Promise((r) => setTimeout(r, 5));
      let sent: number;
      if (hostile === 'client') {
        sent = await flood(client as unknown as Raw, channel as unknown as Chan, () => closed);
      } else {
        channel.pause();
        sent = await flood(serverSide.conn, serverSide.ch, () => closed);
      }
      const deadline = Date.now() + 5000;
      while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(closed, `a hostile ${hostile} sent ${(sent / 1048576).toFixed(1)} MiB past the window and stayed connected`);
      const seen = hostile === 'client' ? serverErr : clientErr;
      assert.equal(seen?.code, 'ERR_SSH_WINDOW_EXCEEDED', `the ${hostile === 'client' ? 'server' : 'client'} says why: ${seen?.message}`);
    } finally {
      client.end();
      await new Promise((r) => server.close(r));
    }
  }
});

test('the ssh2 patch is applied: data packets are built in pooled buffers, each reused only once written', async () => {
  const sent = randomBytes(8 * 1024 * 1024);
  // Every large socket write in this process (both ends are here): how many, in how many buffers.
  let packets = 0;
  const buffers = new Set<ArrayBufferLike>();
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, data: unknown, ...rest: unknown[]) {
    if (Buffer.isBuffer(data) && data.length > 16 * 1024) {
      packets++;
      buffers.add(data.buffer);
    }
    return (write as (...a: unknown[]) => boolean).call(this, data, ...rest);
  } as typeof write;
  // The server sends (a client's 2 MiB window bounds what is in flight, as for the proxy's
  // writes to OpenSSH peers; our own 4 MiB session window would let 128 packets be in flight).
  const server = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec) => { acceptExec().end(sent); });
    });
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  try {
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
      client.on('error', reject);
      client.on('ready', () => client.exec('source', (err, ch) => (err ? reject(err) : resolve(ch))));
      client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u' });
    });
    const received = new Promise<string>((resolve) => {
      const hash = createHash('sha256');
      let since = 0;
      // A slow reader now and then, so packets wait in the sender's socket buffer.
      channel.on('data', (d: Buffer) => {
        hash.update(d);
        since += d.length;
        if (since >= 512 * 1024) {
          since = 0;
          channel.pause();
          setTimeout(() => channel.resume(), 5);
        }
      });
      channel.on('end', () => resolve(hash.digest('hex')));
    });
    const digest = await received;
    assert.equal(digest, createHash('sha256').update(sent).digest('hex'), 'the bytes arrived unchanged');
    assert.ok(packets >= sent.length / (33 * 1024), `${packets} data packets written`);
    // Stock ssh2 allocates every packet anew: as many buffers as packets.
    assert.ok(buffers.size < packets / 2, `${packets} packets were written from ${buffers.size} buffers`);
  } finally {
    Socket.prototype.write = write;
    client.end();
    await new Promise((r) => server.close(r));
  }
});

test('the startup check finds every patched file marked (it warns otherwise)', () => {
  assert.deepEqual(unpatchedSsh2Files(), []);
});
