/**
 * A client at the edge of the server, as a load balancer and the client behind it: a TCP connection
 * from a chosen loopback source that first sends hand-made bytes (a PROXY protocol v1 or v2 header,
 * in as many TCP segments as the test likes), then logs in over that same socket with ssh2's real
 * client and lists the user's folder.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ipaddr from 'ipaddr.js';
import ssh2 from 'ssh2';

const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

/** `PROXY TCP4 SRC DST SPORT DPORT\r\n` (TCP6 when the source is IPv6). */
export function v1Header(src: string, srcPort: number, dst = '127.0.0.1', dstPort = 22): Buffer {
  const family = src.includes(':') ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${family} ${src} ${dst} ${srcPort} ${dstPort}\r\n`, 'latin1');
}

export interface V2Options {
  command?: 'PROXY' | 'LOCAL';
  src: string;
  srcPort: number;
  dst?: string;
  dstPort?: number;
  /** Extra bytes after the addresses (TLVs), counted in the length. */
  tlvs?: Buffer;
}

/** The binary v2 header: signature, 0x21 (v2, PROXY) or 0x20 (LOCAL), 0x11 (TCP over IPv4) or 0x21 (IPv6), length, addresses, ports. */
export function v2Header(o: V2Options): Buffer {
  const src = ipaddr.parse(o.src);
  const six = src.kind() === 'ipv6';
  const dst = ipaddr.parse(o.dst ?? (six ? '::1' : '127.0.0.1'));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(o.srcPort, 0);
  ports.writeUInt16BE(o.dstPort ?? 22, 2);
  const body = Buffer.concat([Buffer.from(src.toByteArray()), Buffer.from(dst.toByteArray()), ports, o.tlvs ?? Buffer.alloc(0)]);
  const head = Buffer.alloc(4);
  head[0] = o.command === 'LOCAL' ? 0x20 : 0x21;
  head[1] = six ? 0x21 : 0x11;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

/** Connect from `localAddress` to 127.0.0.1:`port`. */
export function connectFrom(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    sock.setNoDelay(true);
    sock.once('connect', () => { sock.off('error', reject); resolve(sock); });
    sock.once('error', reject);
  });
}

/** Write each chunk as its own TCP segment: Nagle off and a pause between them. */
export async function writeSegments(sock: net.Socket, chunks: Buffer[], gapMs = 30): Promise<void> {
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0) await sleep(gapMs);
    await new Promise<void>((resolve, reject) => sock.write(chunks[i]!, (err) => (err ? reject(err) : resolve())));
  }
}

export interface LoginResult {
  ok: boolean;
  /** Names in the user's folder, when logged in. */
  names?: string[];
  error?: string;
}

/**
 * Log in as `user` with `privateKey` over the connected `sock`, list `/`, and end. Never rejects.
 * With `hostKey` (a base64 key blob) any other host key is refused, as a client with known_hosts does.
 */
export function loginOver(sock: net.Socket, user: string, privateKey: Buffer | string, timeoutMs = 10_000, hostKey?: string): Promise<LoginResult> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let done = false;
    const finish = (r: LoginResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.end();
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no login within ${timeoutMs} ms` }), timeoutMs);
    client.on('error', (err) => finish({ ok: false, error: err.message }));
    client.on('close', () => finish({ ok: false, error: 'closed' }));
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return finish({ ok: false, error: `sftp: ${err.message}` });
        sftp.readdir('/', (err2, list) => {
          if (err2) return finish({ ok: false, error: `readdir: ${err2.message}` });
          finish({ ok: true, names: list.map((e) => e.filename).sort() });
        });
      });
    });
    const hostVerifier = (key: Buffer): boolean => hostKey === undefined || key.toString('base64') === hostKey;
    client.connect({ sock, username: user, privateKey, readyTimeout: timeoutMs, hostVerifier });
  });
}

/** Connect from `localAddress`, send `prefix` (split into `segments` pieces), then log in. Never rejects. */
export async function loginWithPrefix(port: number, opts: {
  localAddress?: string; prefix?: Buffer; segments?: number; user: string; privateKey: Buffer | string; hostKey?: string;
}): Promise<LoginResult> {
  let sock: net.Socket;
  try {
    sock = await connectFrom(port, opts.localAddress);
    sock.on('error', () => {});
    if (opts.prefix) await writeSegments(sock, split(opts.prefix, opts.segments ?? 1));
  } catch (err) {
    return { ok: false, error: `connect: ${(err as Error).message}` };
  }
  return loginOver(sock, opts.user, opts.privateKey, 10_000, opts.hostKey);
}

/** `b` cut into `n` pieces of about equal size (the last one takes the rest). */
export function split(b: Buffer, n: number): Buffer[] {
  const size = Math.max(1, Math.ceil(b.length / n));
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

/** Resolves when the server closed `sock` (true), or false if it is still open after `ms`. */
export function closedWithin(sock: net.Socket, ms: number): Promise<boolean> {
  if (sock.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    sock.once('close', () => { clearTimeout(timer); resolve(true); });
    sock.resume();
  });
}

/**
 * A connection from `localAddress` that never logs in: 'admitted' once the server's SSH banner
 * arrives (then the client hangs up: a connection that never authenticated), 'closed' if the server
 * closes it without a byte (refused at accept). `onOpen` gets the socket's local port.
 */
export function probe(port: number, localAddress: string, onOpen?: (localPort: number) => void, ms = 5000): Promise<'admitted' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let settled = false;
    const done = (r: 'admitted' | 'closed' | 'timeout'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), ms);
    sock.on('error', () => {});
    sock.once('connect', () => onOpen?.(sock.localPort!));
    sock.on('data', (d: Buffer) => { if (d.toString('latin1').startsWith('SSH-')) done('admitted'); });
    sock.once('close', () => done('closed'));
  });
}
