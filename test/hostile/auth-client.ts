/**
 * An SSH client that offers whatever public-key requests a test wants: any algorithm name, any
 * key blob (malformed ones included), any signature. It is ssh2's real client with a key object
 * whose public blob and signature are the test's, so everything before and around the request
 * (handshake, service request, the key query, PK_OK, the signed request) is real SSH.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import ssh2, { type ParsedKey } from 'ssh2';

export interface Offer {
  /** Algorithm named in the request (the key type of a well-formed blob). */
  algo: string;
  /** The key blob sent. */
  blob: Buffer;
  /** The signature over the session data, if the server answers the query with PK_OK (default: random bytes). */
  sign?: (data: Buffer) => Buffer;
  /**
   * Send the signed request straight away, without a key query first (as paramiko and others
   * do), through ssh2's protocol layer; ssh2's client would always query first.
   */
  direct?: boolean;
}

export interface AuthResult {
  authenticated: boolean;
  /** Offers the client made (its authHandler asked for one this many times). */
  offered: number;
  /** The connection's end: 'closed' by either side, or 'timeout' (still open at the deadline). */
  end: 'closed' | 'timeout';
  error?: string;
  /** The client, still connected when authenticated (the caller ends it). */
  client: ssh2.Client;
}

const base = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ed25519').private) as ParsedKey;

/** A key object ssh2's client accepts as already parsed, answering with the offer's bytes. */
export function offerKey(offer: Offer): ParsedKey {
  const key = Object.create(base) as ParsedKey;
  Object.defineProperties(key, {
    type: { value: offer.algo },
    getPublicSSH: { value: () => offer.blob },
    sign: { value: (data: Buffer) => (offer.sign ? offer.sign(data) : randomBytes(64)) },
    isPrivateKey: { value: () => true },
  });
  return key;
}

interface DirectAuth {
  authPK(user: string, key: ParsedKey, algo: string, sign: (data: Buffer, cb: (sig: Buffer) => void) => void): void;
}

export interface AuthOptions {
  host?: string;
  /** Source address (127.0.0.2 etc. count as other clients). */
  localAddress?: string;
  kex?: string[];
  timeoutMs?: number;
  /** When the client's authentication is over (accepted or every offer tried), close at once. */
  closeAfter?: boolean;
  /** Called with the client's socket right after it computed a signature (the signed request goes out next). */
  afterSign?: (sock: net.Socket) => void;
}

/** A real key's signing, for offers that should succeed: `{ algo, blob, sign: signer(privatePem) }`. */
export function signer(privatePem: Buffer | string): (data: Buffer) => Buffer {
  const key = ssh2.utils.parseKey(privatePem) as ParsedKey;
  return (data) => key.sign(data) as Buffer;
}

/** Connect and make `offers` in order as `username`; resolves when the server decided or closed. */
export function offerKeys(port: number, username: string, offers: Offer[], opts: AuthOptions = {}): Promise<AuthResult> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    const sock = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress });
    sock.on('error', () => {});
    let offered = 0;
    let done = false;
    const finish = (r: Omit<AuthResult, 'offered' | 'client'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!r.authenticated || opts.closeAfter) client.end();
      resolve({ ...r, offered, client });
    };
    const timer = setTimeout(() => finish({ authenticated: false, end: 'timeout' }), opts.timeoutMs ?? 10_000);
    client.on('ready', () => finish({ authenticated: true, end: 'closed' }));
    client.on('error', (err) => finish({ authenticated: false, end: 'closed', error: err.message }));
    client.on('close', () => finish({ authenticated: false, end: 'closed' }));
    client.connect({
      sock,
      username,
      readyTimeout: opts.timeoutMs ?? 10_000,
      algorithms: opts.kex ? { kex: opts.kex as ssh2.KexAlgorithm[] } : undefined,
      hostVerifier: () => true,
      authHandler: (_methods, _partial, next) => {
        const offer = offers[offered];
        if (!offer) return next(false as unknown as ssh2.AuthenticationType);
        offered++;
        const signed = opts.afterSign && offer.sign
          ? { ...offer, sign: (data: Buffer) => { const sig = offer.sign!(data); setImmediate(() => opts.afterSign!(sock)); return sig; } }
          : offer;
        if (offer.direct) {
          const proto = (client as unknown as { _protocol: DirectAuth })._protocol;
          return proto.authPK(username, offerKey(signed), offer.algo, (data, cb) => cb(signed.sign ? signed.sign(data) : randomBytes(64)));
        }
        next({ type: 'publickey', username, key: offerKey(signed) } as unknown as ssh2.AuthenticationType);
      },
    });
  });
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** A key blob built from SSH strings: `blob('ssh-rsa', e, n)`. */
export function blob(...fields: Array<Buffer | string>): Buffer {
  return Buffer.concat(fields.map(sshString));
}

/** Malformed public keys of every type that once made ssh2's parser throw, or nearly. */
export const MALFORMED_BLOBS: ReadonlyArray<{ name: string; algo: string; blob: Buffer }> = [
  { name: 'ssh-rsa with an empty modulus', algo: 'ssh-rsa', blob: blob('ssh-rsa', Buffer.from([1, 0, 1]), Buffer.alloc(0)) },
  { name: 'ssh-rsa with an empty exponent', algo: 'ssh-rsa', blob: blob('ssh-rsa', Buffer.alloc(0), randomBytes(256)) },
  { name: 'ssh-dss with empty fields', algo: 'ssh-dss', blob: blob('ssh-dss', Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)) },
  { name: 'ecdsa-sha2-nistp256 with an empty point', algo: 'ecdsa-sha2-nistp256', blob: blob('ecdsa-sha2-nistp256', 'nistp256', Buffer.alloc(0)) },
  { name: 'ecdsa-sha2-nistp256 with a point off the curve', algo: 'ecdsa-sha2-nistp256',
    blob: blob('ecdsa-sha2-nistp256', 'nistp256', Buffer.concat([Buffer.from([4]), randomBytes(64)])) },
  { name: 'ecdsa-sha2-nistp384 with the wrong curve name', algo: 'ecdsa-sha2-nistp384', blob: blob('ecdsa-sha2-nistp384', 'nistp256', randomBytes(97)) },
  { name: 'ssh-ed25519 with a short key', algo: 'ssh-ed25519', blob: blob('ssh-ed25519', randomBytes(3)) },
  { name: 'ssh-rsa with a huge exponent', algo: 'rsa-sha2-256', blob: blob('ssh-rsa', randomBytes(512), Buffer.concat([Buffer.from([0xc0]), randomBytes(255)])) },
  { name: 'a truncated blob', algo: 'ssh-rsa', blob: Buffer.from([0, 0, 0, 7, 0x73, 0x73, 0x68]) },
  { name: 'an empty blob', algo: 'ssh-ed25519', blob: Buffer.alloc(0) },
];
