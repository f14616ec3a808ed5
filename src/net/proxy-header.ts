// Reads the PROXY protocol header (v1 text or v2 binary, HAProxy's proxy-protocol.txt) that a load
// balancer listed in --proxy-protocol-from sends before the client's bytes. The framing (how many
// bytes make the header, with hard size and time bounds) is ours; the parsing is proxy-protocol-js;
// the addresses it returns are checked again with ipaddr.js (the library accepts 999.0.0.1).
// Whatever follows the header is put back into the socket for the SSH server.
import type net from 'node:net';
import ipaddr from 'ipaddr.js';
import proxyProtocol from 'proxy-protocol-js';

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_PREFIX = Buffer.from('PROXY ');
/** v1's longest line (spec: 107 bytes with CRLF). */
const V1_MAX = 107;
/** v2: 16-byte header plus addresses and TLVs; HAProxy sends well under this. */
const V2_MAX = 16 + 1024;

export interface PeerAddress {
  ip: string;
  port: number;
}

export type ProxyHeader =
  /** The client the balancer speaks for. */
  | { kind: 'proxied'; client: PeerAddress }
  /** A header that names no client (v2 LOCAL, e.g. a health check; v1 UNKNOWN): the socket's own address applies. */
  | { kind: 'local' }
  | { kind: 'error'; fault: HeaderFault; problem: string };

/** What was wrong, from a small fixed set (log throttling and metrics key on it; `problem` says more). */
export type HeaderFault = 'timeout' | 'closed' | 'not-proxy' | 'too-long' | 'malformed';

/** Wait up to `timeoutMs` for a whole header on `socket`; the bytes after it stay readable. */
export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (result: ProxyHeader, rest?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.pause(); // before the listener goes: a flowing socket with no listener drops data
      socket.off('data', onData);
      socket.off('end', onEnd);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: 'error', fault: 'timeout', problem: `no PROXY header within ${timeoutMs} ms` }), timeoutMs);
    const onEnd = (): void => finish({ kind: 'error', fault: 'closed', problem: 'closed before a whole PROXY header arrived' });
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const framed = frame(buffered);
      if (framed === 'more') return;
      if ('problem' in framed) return finish({ kind: 'error', ...framed });
      finish(parse(framed.header, framed.version), buffered.subarray(framed.header.length));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

type Framed = 'more' | { fault: HeaderFault; problem: string } | { header: Buffer; version: 1 | 2 };

/** How many bytes the header takes, once there are enough to tell. */
function frame(b: Buffer): Framed {
  const sig = b.subarray(0, Math.min(b.length, V2_SIGNATURE.length));
  if (V2_SIGNATURE.subarray(0, sig.length).equals(sig)) {
    if (b.length < 16) return 'more';
    if ((b[12]! & 0xf0) !== 0x20) return { fault: 'malformed', problem: `PROXY v2 header with version ${b[12]! >> 4}` };
    const total = 16 + b.readUInt16BE(14);
    if (total > V2_MAX) return { fault: 'too-long', problem: `PROXY v2 header of ${total} bytes (at most ${V2_MAX})` };
    return b.length < total ? 'more' : { header: b.subarray(0, total), version: 2 };
  }
  const prefix = b.subarray(0, Math.min(b.length, V1_PREFIX.length));
  if (!V1_PREFIX.subarray(0, prefix.length).equals(prefix)) return { fault: 'not-proxy', problem: 'the connection does not start with a PROXY header' };
  const end = b.indexOf('\r\n');
  const tooLong = { fault: 'too-long', problem: `PROXY v1 line longer than ${V1_MAX} bytes` } as const;
  if (end === -1) return b.length >= V1_MAX ? tooLong : 'more';
  if (end + 2 > V1_MAX) return tooLong;
  return { header: b.subarray(0, end + 2), version: 1 };
}

function parse(header: Buffer, version: 1 | 2): ProxyHeader {
  try {
    return version === 1 ? parseV1(header.toString('latin1')) : parseV2(header);
  } catch (err) {
    return { kind: 'error', fault: 'malformed', problem: `malformed PROXY v${version} header (${(err as { message?: string }).message ?? String(err)})` };
  }
}

function parseV1(line: string): ProxyHeader {
  if (/^PROXY UNKNOWN(?: .*)?\r\n$/.test(line)) return { kind: 'local' };
  const p = proxyProtocol.V1ProxyProtocol.parse(line);
  return checked(p.source.ipAddress, p.source.port, p.inetProtocol === 'TCP6' ? 'ipv6' : 'ipv4');
}

function parseV2(header: Buffer): ProxyHeader {
  const p = proxyProtocol.V2ProxyProtocol.parse(new Uint8Array(header));
  if (p.command === proxyProtocol.Command.LOCAL) return { kind: 'local' };
  const a = p.proxyAddress;
  if (a instanceof proxyProtocol.IPv4ProxyAddress) return checked(a.sourceAddress.address.join('.'), a.sourcePort, 'ipv4');
  if (a instanceof proxyProtocol.IPv6ProxyAddress) {
    const bytes = a.sourceAddress.address;
    const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
    return checked(groups.join(':'), a.sourcePort, 'ipv6');
  }
  return { kind: 'local' }; // UNSPEC or a unix socket: no IP to speak of; the spec says use the real connection's
}

function checked(ip: string, port: number, kind: 'ipv4' | 'ipv6'): ProxyHeader {
  const valid = kind === 'ipv4' ? ipaddr.IPv4.isValidFourPartDecimal(ip) : ipaddr.IPv6.isValid(ip);
  if (!valid) return { kind: 'error', fault: 'malformed', problem: `PROXY header names an invalid ${kind} address` };
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { kind: 'error', fault: 'malformed', problem: 'PROXY header names an invalid port' };
  return { kind: 'proxied', client: { ip: ipaddr.process(ip).toString(), port } };
}
