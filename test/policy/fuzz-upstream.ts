/**
 * A hostile SFTP upstream for the filter fuzz test: a real SSH server (ssh2, any key accepted)
 * whose sftp subsystem answers each request with random, mutated or misdirected replies, cut at
 * random points into separate channel writes (so they reach the proxy in odd chunks), sometimes
 * with replies nobody asked for, sometimes with none. It records every request that reached it
 * (what the proxy forwarded), which is what the test checks the policy against.
 */
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { generateEd25519 } from '../../src/keys/generate-ed25519.js';
import { FX, FXP } from '../../src/sftp/protocol/constants.js';
import { PacketFramer } from '../../src/sftp/protocol/framer.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';
import { fingerprintOfBlob, parsePublicLine } from '../harness/index.js';
import { rng } from '../sftp/fuzz-packets.js';

export interface FuzzUpstream {
  readonly port: number;
  readonly hostKeyFingerprint: string;
  /** Bodies (type byte onwards) of every request received, all sessions together. */
  readonly received: Buffer[];
  /** SFTP sessions opened / still open. */
  readonly opened: number;
  readonly open: number;
  /** Make the next session end with a packet length no SFTP peer sends. */
  breakFramingNext(): void;
  close(): Promise<void>;
}

export async function startFuzzUpstream(seed: number): Promise<FuzzUpstream> {
  const key = generateEd25519();
  const r = rng(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const received: Buffer[] = [];
  let opened = 0;
  let open = 0;
  let breakNext = false;

  const reply = (id: number, reqType: number): Buffer[] => {
    const roll = r();
    const withId = (type: number, build: (w: PacketWriter) => void = () => undefined): Buffer => {
      const w = new PacketWriter(type, 64).u32(id);
      build(w);
      return w.finish();
    };
    // A probe (LSTAT) gets "no such file" often enough that uploads go on.
    if (reqType === FXP.LSTAT && roll < 0.3) return [withId(FXP.STATUS, (w) => w.u32(FX.NO_SUCH_FILE).string('').string(''))];
    if (roll < 0.35) return [withId(FXP.STATUS, (w) => w.u32(int(10)).string('x'.repeat(int(50))).string(''))];
    if (roll < 0.45) return [withId(FXP.HANDLE, (w) => w.string(Buffer.alloc(int(300), int(256))))];
    if (roll < 0.55) {
      // DATA whose length says more (or less) than it carries.
      const data = Buffer.alloc(int(3000), 0x44);
      return [withId(FXP.DATA, (w) => { w.u32(r() < 0.5 ? data.length : int(2 ** 31)); for (const b of data) w.u8(b); })];
    }
    if (roll < 0.62) return [withId(FXP.NAME, (w) => { w.u32(int(2 ** 32)); w.string('n').string('l').u32(0); })];
    if (roll < 0.67) return [withId(FXP.ATTRS, (w) => w.u32(int(2 ** 32)))];
    if (roll < 0.72) return [new PacketWriter(FXP.STATUS, 32).u32(int(2 ** 32)).u32(0).string('').string('').finish()]; // someone else's id
    if (roll < 0.77) return [withId(int(256), (w) => { for (let i = int(40); i > 0; i--) w.u8(int(256)); })];
    if (roll < 0.80) return [Buffer.from([0, 0, 0, 3, FXP.STATUS, 0, 0])]; // shorter than any reply: no id
    if (roll < 0.85) return []; // no answer at all
    if (roll < 0.90) return [withId(FXP.STATUS, (w) => w.u32(FX.OK).string('').string('')), withId(FXP.STATUS, (w) => w.u32(FX.FAILURE).string('').string(''))];
    return [withId(FXP.STATUS, (w) => w.u32(FX.OK).string('').string(''))];
  };

  /** `bytes` written in 1-4 pieces, cut at random points. */
  const writeCut = (stream: ssh2.ServerChannel, bytes: Buffer): void => {
    let at = 0;
    for (let pieces = 1 + int(4); pieces > 1 && at < bytes.length; pieces--) {
      const n = int(bytes.length - at + 1);
      if (n > 0) stream.write(bytes.subarray(at, at + n));
      at += n;
    }
    if (at < bytes.length) stream.write(bytes.subarray(at));
  };

  const serve = (stream: ssh2.ServerChannel): void => {
    opened++;
    open++;
    const breakThis = breakNext;
    breakNext = false;
    const framer = new PacketFramer(16 * 1024 * 1024);
    let answered = 0;
    stream.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let f = framer.next(); f !== null; f = framer.next()) {
        if (f.kind !== 'packet') return void stream.close();
        const body = Buffer.from(f.body);
        if (body[0] === FXP.INIT) {
          writeCut(stream, new PacketWriter(FXP.VERSION, 64).u32(3).string('posix-rename@openssh.com').string('1').finish());
          continue;
        }
        received.push(body);
        if (body.length < 5) continue;
        if (breakThis && ++answered > 5) {
          // A length past any SFTP packet: the proxy must end this session, nothing else.
          stream.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, FXP.STATUS]));
          continue;
        }
        const out = reply(body.readUInt32BE(1), body[0]!);
        // Now and then a reply nobody asked for comes first.
        if (r() < 0.05) out.unshift(new PacketWriter(FXP.DATA, 32).u32(int(2 ** 32)).string('unasked').finish());
        for (const p of out) writeCut(stream, p);
      }
    });
    stream.on('close', () => { open--; });
    stream.on('error', () => undefined);
  };

  const server = new ssh2.Server({ hostKeys: [key.private] }, (conn) => {
    conn.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        accept().on('subsystem', (acceptSub, _reject, info) => {
          if (info.name !== 'sftp') return;
          serve(acceptSub());
        });
      });
    });
    conn.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hostKeyFingerprint: fingerprintOfBlob(parsePublicLine(key.public).blobBase64),
    received,
    get opened() { return opened; },
    get open() { return open; },
    breakFramingNext: () => { breakNext = true; },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
