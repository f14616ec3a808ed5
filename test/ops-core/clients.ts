/**
 * Clients the operations tests play: ssh2 logins from a chosen loopback source address, silent TCP
 * connections, and the real OpenSSH sftp kept open on a pipe (a session that stays until the
 * server closes it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { trackChild } from '../harness/index.js';

export interface LoginTarget {
  port: number;
  user: string;
  keyPath: string;
  /** The server's host key blob; checked. */
  hostKey: Buffer;
  /** Source address: 127.0.0.x plays another client. */
  localAddress?: string;
  /** ssh2 keepalive@openssh.com requests every this many ms. */
  keepaliveInterval?: number;
  /** A stream to speak SSH over instead of a new TCP connection (see stubbornSocket). */
  sock?: Duplex;
}

/** An ssh2 client logged in (resolves), or the reason it was not (rejects). */
export function sshLogin(t: LoginTarget): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => {
      client.on('error', () => {}); // later errors surface through the operations
      resolve(client);
    });
    client.once('error', (err) => reject(err));
    client.once('close', () => reject(new Error('closed before ready')));
    client.connect({
      host: '127.0.0.1', port: t.port, username: t.user, privateKey: readFileSync(t.keyPath), localAddress: t.localAddress, sock: t.sock,
      readyTimeout: 10_000, keepaliveInterval: t.keepaliveInterval ?? 0, hostVerifier: (k: Buffer) => k.equals(t.hostKey),
    });
  });
}

export function openSftp(client: ssh2.Client): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

/** Resolves when `client`'s connection is closed (by either side). */
export function closed(emitter: { once(ev: 'close', f: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

/** Whether `p` settles within `ms` (without waiting longer). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => { timer = setTimeout(() => r(false), ms); });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Held {
  sock: net.Socket;
  /** Resolves when the server closed it (or it failed). */
  closed: Promise<void>;
}

/** A TCP connection from `localAddress` that says nothing; resolves once connected. */
export function silent(port: number, localAddress: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    const done = closed(sock);
    sock.on('error', () => {});
    sock.resume(); // read (and drop) the server's banner, or its close would go unseen
    sock.once('connect', () => resolve({ sock, closed: done }));
    sock.once('error', reject);
  });
}

export interface SftpArgs {
  port: number;
  user: string;
  keyPath: string;
  knownHostsPath: string;
  cwd?: string;
  /** Extra arguments before the destination (e.g. ['-l', '8000'], ['-o', 'ServerAliveInterval=1']). */
  extraArgs?: string[];
}

/** OpenSSH sftp reading its batch from a pipe we hold: it stays logged in until we end the pipe or the server closes. */
export class LiveSftp {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(a: SftpArgs) {
    this.child = spawn('sftp', ['-F', '/dev/null', '-b', '-', '-P', String(a.port), '-i', a.keyPath, '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${a.knownHostsPath}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', ...(a.extraArgs ?? []), `${a.user}@127.0.0.1`], { cwd: a.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(this.child, 'sftp-live');
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  /** Send one batch command. */
  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Resolves once the output shows `pattern` (the prompt echoes each command: `sftp> pwd`). */
  async waitFor(pattern: RegExp, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`sftp output did not show ${String(pattern)} within ${ms} ms:\n${this.output}`);
      if (this.child.exitCode !== null) throw new Error(`sftp exited (${this.child.exitCode}) before showing ${String(pattern)}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** End the batch (sftp quits) and wait for its exit code. */
  async quit(): Promise<number | null> {
    this.child.stdin!.end();
    return this.exited;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/**
 * A TCP connection whose owner never closes it: the server's FIN is ignored (allowHalfOpen) and
 * so are the client's own end() and destroy() calls, made through `stream`. What a hostile or
 * broken peer does; `release()` really closes it.
 */
export function stubbornSocket(port: number, localAddress?: string): { stream: Duplex; socket: net.Socket; release(): void } {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen: true });
  sock.on('error', () => {});
  const stream = new Duplex({
    read() { sock.resume(); },
    write(chunk: Buffer, _enc, cb) { if (sock.writable) sock.write(chunk, () => cb()); else cb(); },
    final(cb) { cb(); }, // ignored: the socket stays open
    destroy(_err, cb) { cb(null); }, // ignored too
  });
  sock.on('data', (d: Buffer) => { if (!stream.push(d)) sock.pause(); });
  return { stream, socket: sock, release: () => sock.destroy() };
}
