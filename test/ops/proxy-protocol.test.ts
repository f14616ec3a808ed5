/**
 * --proxy-protocol-from: connections from a listed balancer start with a PROXY v1 or v2 header, and
 * the address in it is the client everywhere (the log's `remote`, with `via` the balancer; the
 * per-address limits). Hand-made headers naming 203.0.113.x (an address that is not the socket's),
 * then a real SSH login over the same socket. The "balancer" is the loopback alias 127.0.0.9; the
 * test client at 127.0.0.1 is a direct client.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  execFileCollect, localUserSetup, makeTempDir, startProxy, type LocalUserSetup, type LogLine, type ProxyHandle, type TempDir,
} from '../harness/index.js';
import {
  closedWithin, connectFrom, loginOver, loginWithPrefix, split, v1Header, v2Header, writeSegments,
} from './edge-client.js';

const BALANCER = '127.0.0.9';
const HEADER_TIMEOUT_MS = 5000;

let tmp: TempDir;
let setup: LocalUserSetup;
let privateKey: Buffer;

before(async () => {
  tmp = await makeTempDir('proxy-protocol-');
  setup = await localUserSetup(tmp.path);
  privateKey = readFileSync(setup.key.privatePath);
});
after(async () => { await tmp?.cleanup(); });

/** Log lines (from `since`) of the connection whose balancer leg had local port `port`. */
const linesVia = (proxy: ProxyHandle, port: number, since = 0): LogLine[] =>
  proxy.logs().slice(since).filter((l) => l['via'] === `${BALANCER}:${port}`);

describe('a balancer listed in --proxy-protocol-from', () => {
  let proxy: ProxyHandle;
  before(async () => {
    proxy = await startProxy({ args: [...setup.args, '--proxy-protocol-from', `${BALANCER},127.0.1.0/24`] });
  });
  after(async () => { await proxy?.stop(); });

  /** Log in through the "balancer" after `header`; returns the balancer's local port and the login's log line. */
  async function proxiedLogin(header: Buffer, segments = 1): Promise<{ via: number; accepted: LogLine }> {
    const sock = await connectFrom(proxy.port, BALANCER);
    sock.on('error', () => {});
    const via = sock.localPort!;
    await writeSegments(sock, split(header, segments));
    const r = await loginOver(sock, setup.name, privateKey);
    assert.equal(r.ok, true, `login through the balancer failed: ${r.error}\n${proxy.output().slice(-3000)}`);
    assert.deepEqual(r.names, []);
    const accepted = await proxy.waitForLog((l) => l.msg === 'login accepted' && l['via'] === `${BALANCER}:${via}`, 5000);
    return { via, accepted };
  }

  test('v1 TCP4: the header\'s address is the client in every line of the connection', async () => {
    const { via, accepted } = await proxiedLogin(v1Header('203.0.113.7', 4242, '127.0.0.1', proxy.port));
    assert.equal(accepted['remote'], '203.0.113.7:4242');
    const lines = linesVia(proxy, via);
    assert.ok(lines.some((l) => l.msg === 'connection'), 'the connection line names the balancer');
    for (const l of lines) assert.equal(l['remote'], '203.0.113.7:4242', JSON.stringify(l));
    await proxy.waitForLog((l) => l.msg === 'session end' && l['via'] === `${BALANCER}:${via}` && l['remote'] === '203.0.113.7:4242');
  });

  test('v2 TCP over IPv4 (0x21 0x11)', async () => {
    const { accepted } = await proxiedLogin(v2Header({ src: '203.0.113.8', srcPort: 50123, dstPort: proxy.port }));
    assert.equal(accepted['remote'], '203.0.113.8:50123');
  });

  test('v2 TCP over IPv6, with a TLV after the addresses', async () => {
    const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP, 3 bytes
    const { accepted } = await proxiedLogin(v2Header({ src: '2001:db8::7', srcPort: 4242, dst: '2001:db8::1', tlvs: tlv }));
    assert.equal(accepted['remote'], '[2001:db8::7]:4242');
  });

  test('v1 TCP6', async () => {
    const { accepted } = await proxiedLogin(v1Header('2001:db8:0:0:0:0:0:9', 1234, '::1', 22));
    assert.equal(accepted['remote'], '[2001:db8::9]:1234');
  });

  test('paramiko over the same socket after a v2 header', async () => {
    // paramiko.Transport(sock) on a socket that sent the header first, as FIELD-NOTES describe.
    const script = [
      'import socket, sys, paramiko',
      'port, header, keyfile, user = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4]',
      `s = socket.create_connection(('127.0.0.1', port), source_address=('${BALANCER}', 0))`,
      's.sendall(header)',
      't = paramiko.Transport(s)',
      't.start_client(timeout=10)',
      't.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(keyfile))',
      'sftp = paramiko.SFTPClient.from_transport(t)',
      'print("listed", sftp.listdir("/"), s.getsockname()[1])',
      't.close()',
    ].join('\n');
    const header = v2Header({ src: '203.0.113.13', srcPort: 40000, dstPort: proxy.port }).toString('hex');
    const r = await execFileCollect('/usr/bin/python3', ['-c', script, String(proxy.port), header, setup.key.privatePath, setup.name], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const via = Number(/^listed \[\] (\d+)$/m.exec(r.stdout)?.[1]);
    const accepted = await proxy.waitForLog((l) => l.msg === 'login accepted' && l['via'] === `${BALANCER}:${via}`);
    assert.equal(accepted['remote'], '203.0.113.13:40000');
  });

  test('v2 LOCAL (a balancer\'s own connection) and v1 UNKNOWN: the socket\'s address applies', async () => {
    const local = await proxiedLogin(v2Header({ command: 'LOCAL', src: '203.0.113.9', srcPort: 1 }));
    assert.equal(local.accepted['remote'], `${BALANCER}:${local.via}`);
    const unknown = await proxiedLogin(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'));
    assert.equal(unknown.accepted['remote'], `${BALANCER}:${unknown.via}`);
  });

  test('a header split over several TCP segments (inside the v2 signature and length, inside the v1 line) works', async () => {
    const v2 = await proxiedLogin(v2Header({ src: '203.0.113.10', srcPort: 7 }), 9);
    assert.equal(v2.accepted['remote'], '203.0.113.10:7');
    const v1 = await proxiedLogin(v1Header('203.0.113.11', 8), 6);
    assert.equal(v1.accepted['remote'], '203.0.113.11:8');
  });

  test('the header and the client\'s first SSH bytes in one segment: nothing after the header is lost', async () => {
    const sock = await connectFrom(proxy.port, BALANCER);
    sock.on('error', () => {});
    const via = sock.localPort!;
    sock.cork();
    sock.write(v2Header({ src: '203.0.113.12', srcPort: 9 }));
    setTimeout(() => sock.uncork(), 50); // the client's identification line is written meanwhile
    const r = await loginOver(sock, setup.name, privateKey);
    assert.equal(r.ok, true, r.error);
    const accepted = await proxy.waitForLog((l) => l.msg === 'login accepted' && l['via'] === `${BALANCER}:${via}`);
    assert.equal(accepted['remote'], '203.0.113.12:9');
  });

  /**
   * Send `bytes` from `balancer`; the connection must be closed within `ms` with one log line
   * naming `problem`. These lines are throttled per balancer and kind of fault (a flood of one
   * is one line per interval): several variants of one kind come from other balancers, 127.0.1.x.
   */
  async function refusedHeader(bytes: Buffer, problem: RegExp, ms = 2000, balancer = BALANCER): Promise<void> {
    const since = proxy.logs().length;
    const sock = await connectFrom(proxy.port, balancer);
    sock.on('error', () => {});
    const via = sock.localPort!;
    await writeSegments(sock, [bytes]);
    const started = Date.now();
    assert.equal(await closedWithin(sock, ms), true, `still open after ${ms} ms`);
    const line = await proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('connection closed: bad or missing PROXY header')
      && problem.test(String(l['problem'])), 3000, since);
    assert.equal(line['via'], `${balancer}:${via}`);
    assert.equal(proxy.logs().slice(since).filter((l) => l['via'] === `${balancer}:${via}`).filter((l) => l.msg === 'login accepted' || l.msg === 'connection').length, 0,
      'no SSH work for it');
    assert.ok(Date.now() - started < ms + 1000);
    // The product goes on serving everyone else.
    const ok = await loginWithPrefix(proxy.port, { localAddress: BALANCER, prefix: v1Header('203.0.113.50', 50), user: setup.name, privateKey });
    assert.equal(ok.ok, true, ok.error);
  }

  test('a malformed v1 line (an invalid address) is closed and logged', async () => {
    await refusedHeader(Buffer.from('PROXY TCP4 999.0.113.7 127.0.0.1 4242 22\r\nSSH-2.0-x\r\n'), /invalid ipv4 address/);
  });

  test('a malformed v1 line (missing a field) is closed and logged', async () => {
    await refusedHeader(Buffer.from('PROXY TCP4 203.0.113.7 127.0.0.1 4242\r\n'), /malformed PROXY v1/, 2000, '127.0.1.2');
  });

  test('a malformed v2 header (an invalid command nibble) is closed and logged', async () => {
    const bad = v2Header({ src: '203.0.113.7', srcPort: 1 });
    bad[12] = 0x2f;
    await refusedHeader(bad, /malformed PROXY v2/, 2000, '127.0.1.3');
  });

  test('a v2 header shorter than its addresses is closed and logged', async () => {
    const bad = v2Header({ src: '203.0.113.7', srcPort: 1 }).subarray(0, 20);
    bad.writeUInt16BE(4, 14);
    await refusedHeader(bad, /malformed PROXY v2/, 2000, '127.0.1.4');
  });

  test('a missing header (the client just speaks SSH) is closed and logged', async () => {
    await refusedHeader(Buffer.from('SSH-2.0-OpenSSH_9.2p1\r\n'), /does not start with a PROXY header/);
  });

  test('an oversize v1 line is closed at once and logged', async () => {
    await refusedHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(300)}`), /longer than 107 bytes/, 1000);
  });

  test('a v2 header announcing more than the bound is closed at once and logged', async () => {
    const bad = v2Header({ src: '203.0.113.7', srcPort: 1 });
    bad.writeUInt16BE(60_000, 14);
    await refusedHeader(bad, /PROXY v2 header of 60016 bytes/, 1000, '127.0.1.5');
  });

  test('a slow header is closed at the header timeout and logged', { timeout: 20_000 }, async () => {
    await refusedHeader(Buffer.from('PROXY TCP4 203.0.'), /no PROXY header within/, HEADER_TIMEOUT_MS + 1500);
  });

  test('a header from a source NOT listed is not trusted: SSH garbage, logged with the socket\'s own address', async () => {
    const since = proxy.logs().length;
    const sock = await connectFrom(proxy.port, '127.0.0.1');
    sock.on('error', () => {});
    const own = `127.0.0.1:${sock.localPort}`;
    await writeSegments(sock, [v1Header('203.0.113.66', 4242)]);
    const r = await loginOver(sock, setup.name, privateKey);
    assert.equal(r.ok, false, 'no login after an untrusted header');
    await proxy.waitForLog((l) => l.msg === 'connection' && l['remote'] === own, 5000, since);
    await proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('connection closed') && l['remote'] === own, 5000, since);
    const mentions = proxy.logs().slice(since).filter((l) => JSON.stringify(l).includes('203.0.113.66'));
    assert.deepEqual(mentions, [], 'the header\'s address appears nowhere');
  });
});

describe('limits count the header\'s address, not the balancer\'s', () => {
  let proxy: ProxyHandle;
  before(async () => {
    proxy = await startProxy({ args: [...setup.args, '--proxy-protocol-from', BALANCER, '--max-connections-per-ip', '1'] });
  });
  after(async () => { await proxy?.stop(); });

  test('two clients behind one balancer with different header addresses are counted apart', async () => {
    const held = await connectFrom(proxy.port, BALANCER);
    held.on('error', () => {});
    await writeSegments(held, [v1Header('203.0.113.20', 1000)]);
    await proxy.waitForLog((l) => l.msg === 'connection' && l['remote'] === '203.0.113.20:1000');

    const other = await loginWithPrefix(proxy.port, { localAddress: BALANCER, prefix: v1Header('203.0.113.21', 1001), user: setup.name, privateKey });
    assert.equal(other.ok, true, `another client behind the same balancer: ${other.error}`);

    const since = proxy.logs().length;
    const same = await connectFrom(proxy.port, BALANCER);
    same.on('error', () => {});
    await writeSegments(same, [v1Header('203.0.113.20', 1002)]);
    assert.equal(await closedWithin(same, 2000), true, 'a second connection of 203.0.113.20 is refused');
    const refusal = await proxy.waitForLog((l) => l.msg === 'connection refused: max-connections-per-ip reached', 3000, since);
    assert.equal(refusal['remote'], '203.0.113.20:1002');
    held.destroy();
  });
});
