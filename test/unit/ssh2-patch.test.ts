// patches/ssh2+<version>.patch is applied at install (postinstall: patch-package). These tests fail
// when ssh2 was upgraded without the patch being refreshed, or installed with --ignore-scripts.
// The behaviour the fixes buy is asserted end to end by the client matrix and the refusal tests
// (rsa-sha2-512-only OpenSSH, asyncssh and rclone with RSA keys); the speed-ups by npm run bench.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import net, { Socket, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { generateEd25519 } from '../../src/keys/generate-ed25519.js';
import { unpatchedSsh2Files } from '../../src/runtime/ssh2-patch.js';
import { REPO_ROOT } from '../harness/index.js';
import { settlesWithin } from '../ops-core/clients.js';

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

type Coded = Error & { code?: string };

interface ExecPair {
  client: ssh2.Client;
  /** The client's end of the exec channel (ssh2 keeps the SSH channel ids and windows on it). */
  channel: ssh2.ClientChannel & { outgoing: { id: number; window: number } };
  /** The server's end, and its connection (`closed`: its socket is gone). */
  served: { conn: ssh2.Connection; channel: ssh2.ServerChannel & { outgoing: { id: number } }; closed: Promise<void> };
  errors: { client: Coded[]; server: Coded[] };
  close(): Promise<void>;
}

/**
 * An ssh2 server and client in this process, joined by one exec channel; `onExec` gets the
 * server's end. `halfOpen`: the client's socket stays open for writing when the server ends its
 * side, as a peer that ignores our DISCONNECT keeps it.
 */
async function execPair(onExec: (channel: ssh2.ServerChannel) => void = () => {}, o: { halfOpen?: boolean } = {}): Promise<ExecPair> {
  const errors: ExecPair['errors'] = { client: [], server: [] };
  let served: ExecPair['served'] | undefined;
  const server = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        const channel = acceptExec();
        served = { conn, channel: channel as ExecPair['served']['channel'], closed: new Promise((r) => conn.once('close', () => r())) };
        onExec(channel);
      });
    });
    conn.on('error', (err) => errors.server.push(err));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  const close = async (): Promise<void> => {
    client.end();
    await new Promise((r) => server.close(r));
  };
  try {
    const channel = await new Promise<ExecPair['channel']>((resolve, reject) => {
      client.once('error', reject);
      client.on('ready', () => client.exec('x', (err, ch) => (err ? reject(err) : resolve(ch as ExecPair['channel']))));
      const port = (server.address() as AddressInfo).port;
      client.connect({ sock: net.connect({ host: '127.0.0.1', port, allowHalfOpen: o.halfOpen ?? false }), username: 'u' });
    });
    client.on('error', (err) => errors.client.push(err));
    while (!served) await new Promise((r) => setTimeout(r, 5));
    return { client, channel, served, errors, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const { SESSION_WINDOW, MAX_WINDOW, PACKET_SIZE } = require('ssh2/lib/Channel.js') as { SESSION_WINDOW: number; MAX_WINDOW: number; PACKET_SIZE: number };

test('the ssh2 patch is applied: window credit once 3 packets arrived, not once half the window was used', async () => {
  const sent = 4 * PACKET_SIZE;
  let received = 0;
  const p = await execPair((ch) => ch.on('data', (d: Buffer) => { received += d.length; }));
  try {
    assert.equal(p.channel.outgoing.window, SESSION_WINDOW, 'the session window the server granted');
    p.channel.write(Buffer.alloc(sent));
    // 128 KiB is far from half the window: stock ssh2 sends no credit for it at all.
    const deadline = Date.now() + 2000;
    while ((received < sent || p.channel.outgoing.window <= SESSION_WINDOW - sent) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(received, sent);
    assert.deepEqual(p.errors, { client: [], server: [] }, 'a sender within the window is not cut off');
    assert.ok(p.channel.outgoing.window > SESSION_WINDOW - sent,
      `the server credited the window (client's send window ${p.channel.outgoing.window}, ${SESSION_WINDOW - sent} without credit)`);
  } finally {
    await p.close();
  }
});

test('the ssh2 patch is applied: a 4 MiB session window, and a stalled reader holds no more than it', async () => {
  assert.equal(SESSION_WINDOW, 2 * MAX_WINDOW);
  const p = await execPair((ch) => ch.pause()); // a reader that never reads
  try {
    p.channel.write(Buffer.alloc(3 * SESSION_WINDOW));
    const deadline = Date.now() + 5000;
    while (p.channel.outgoing.window > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200)); // a credit still on its way would show now
    assert.equal(p.channel.outgoing.window, 0, 'the sender is stopped by the window');
    // Stock ssh2 (2 MiB readable buffer, credit until it is full) holds up to 4 MiB here too, but
    // with half the window; the 64 KiB buffer keeps the total where it was.
    const held = p.served.channel.readableLength;
    assert.ok(held <= SESSION_WINDOW + 3 * PACKET_SIZE, `the stalled reader holds ${held} bytes`);
    assert.ok(held >= SESSION_WINDOW - PACKET_SIZE, `${held} bytes arrived: the whole window was usable`);
    // The last packet filled the window exactly: that is allowed, not "past the window".
    assert.deepEqual(p.errors, { client: [], server: [] });
    assert.equal(await settlesWithin(p.served.closed, 100), false, 'the connection stays open');
  } finally {
    await p.close();
  }
});

test('the ssh2 patch is applied: a peer that sends past the window is disconnected, whichever end it is', async () => {
  type Raw = { _protocol: { channelData(id: number, data: Buffer): void } };
  const junk = Buffer.alloc(30_000); // not a divisor of the window: stock ssh2 checked for exactly 0
  for (const hostile of ['client', 'server'] as const) {
    const p = await execPair((ch) => ch.pause()); // no credit once its buffer is full
    let closed = false;
    p.client.on('close', () => { closed = true; });
    try {
      const [from, id] = hostile === 'client'
        ? [p.client as unknown as Raw, p.channel.outgoing.id]
        : [p.served.conn as unknown as Raw, p.served.channel.outgoing.id];
      if (hostile === 'server') p.channel.pause();
      let sent = 0;
      for (let i = 0; i < 1000 && !closed; i++) {
        from._protocol.channelData(id, junk);
        sent += junk.length;
        if (i % 32 === 31) await new Promise((r) => setTimeout(r, 5));
      }
      const deadline = Date.now() + 5000;
      while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(closed, `a hostile ${hostile} sent ${(sent / 1048576).toFixed(1)} MiB past the window and stayed connected`);
      const seen = hostile === 'client' ? p.errors.server : p.errors.client;
      assert.equal(seen[0]?.code, 'ERR_SSH_WINDOW_EXCEEDED', `the other end says why: ${seen[0]?.message}`);
    } finally {
      await p.close();
    }
  }
});

test('the ssh2 patch is applied: a client past the window that ignores our DISCONNECT is read no more, and cut off within seconds', async () => {
  type Raw = { _protocol: { channelData(id: number, data: Buffer): void; _handlers: Record<string, unknown> } };
  const p = await execPair((ch) => ch.pause(), { halfOpen: true });
  const socket = (p.served.conn as unknown as { _sock: net.Socket })._sock;
  try {
    const hostile = p.client as unknown as Raw;
    hostile._protocol._handlers['DISCONNECT'] = () => {}; // and its socket stays open (halfOpen)
    const junk = Buffer.alloc(30_000);
    for (let i = 0; i < 1000 && p.errors.server.length === 0; i++) {
      hostile._protocol.channelData(p.channel.outgoing.id, junk);
      if (i % 32 === 31) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(p.errors.server[0]?.code, 'ERR_SSH_WINDOW_EXCEEDED');
    assert.equal(socket.listenerCount('data'), 0, 'the server still parses what the client sends');
    assert.ok(await settlesWithin(p.served.closed, 5000), 'the server kept the connection of a client that ignored its DISCONNECT');
  } finally {
    p.client.destroy();
    socket.destroy(); // without the patch's own timer nothing else would
    await p.close();
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
  const p = await execPair((ch) => ch.end(sent));
  try {
    const received = new Promise<string>((resolve) => {
      const hash = createHash('sha256');
      let since = 0;
      // A slow reader now and then, so packets wait in the sender's socket buffer.
      p.channel.on('data', (d: Buffer) => {
        hash.update(d);
        since += d.length;
        if (since >= 512 * 1024) {
          since = 0;
          p.channel.pause();
          setTimeout(() => p.channel.resume(), 5);
        }
      });
      p.channel.on('end', () => resolve(hash.digest('hex')));
    });
    const digest = await received;
    assert.equal(digest, createHash('sha256').update(sent).digest('hex'), 'the bytes arrived unchanged');
    assert.ok(packets >= sent.length / (33 * 1024), `${packets} data packets written`);
    // Stock ssh2 allocates every packet anew: as many buffers as packets.
    assert.ok(buffers.size < packets / 2, `${packets} packets were written from ${buffers.size} buffers`);
  } finally {
    Socket.prototype.write = write;
    await p.close();
  }
});

test('the startup check finds every patched file marked (it warns otherwise)', () => {
  assert.deepEqual(unpatchedSsh2Files(), []);
});
