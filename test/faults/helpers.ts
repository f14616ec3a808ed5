/** In-process ssh2 SFTP clients and probes for the proxy fault tests. */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type SFTPWrapper } from 'ssh2';
import { descendants, isAlive, parsePublicLine, type LogLine } from '../harness/index.js';
import type { ClientKeyType, Target } from '../clients/target.js';

export interface SftpSession {
  conn: ssh2.Client;
  sftp: SFTPWrapper;
  /** Our TCP socket (pause() it to stop reading). */
  sock: net.Socket;
  /** `127.0.0.1:<our port>`: the `remote` field of the product's log lines for this connection. */
  remote: string;
  /** Resolves when the SSH connection has closed. */
  closed: Promise<void>;
  end(): void;
}

/**
 * Connect with ssh2 over our own socket, verify the target's host key (exact blob), log in with
 * the key of `keyType`, open the sftp subsystem.
 */
export async function openSftp(target: Target, keyType: ClientKeyType = 'ed25519', timeoutMs = 30_000): Promise<SftpSession> {
  const expected = Buffer.from(parsePublicLine(target.hostPublicKeyLine).blobBase64, 'base64');
  const sock = net.connect({ host: target.host, port: target.port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const remote = `127.0.0.1:${sock.localPort}`;
  const conn = new ssh2.Client();
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ssh login to ${target.port} timed out`)), timeoutMs);
      conn.once('ready', () => { clearTimeout(timer); resolve(); });
      conn.once('error', (err) => { clearTimeout(timer); reject(err); });
      conn.connect({
        sock,
        username: target.user,
        privateKey: readFileSync(target.keyFor(keyType).privatePath),
        hostVerifier: (key: Buffer) => key.equals(expected),
        readyTimeout: timeoutMs,
      });
    });
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      conn.sftp((err, s) => (err ? reject(err) : resolve(s))));
    conn.on('error', () => {}); // later errors surface through the operations
    return { conn, sftp, sock, remote, closed, end: () => conn.end() };
  } catch (err) {
    conn.end();
    sock.destroy();
    throw err;
  }
}

/** Write `data` to `path` over SFTP (one stream, ends with close). */
export function upload(sftp: SFTPWrapper, path: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = sftp.createWriteStream(path);
    ws.once('error', reject);
    ws.once('close', () => resolve());
    ws.end(data);
  });
}

/** Read `path` over SFTP into memory. */
export function download(sftp: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const rs = sftp.createReadStream(path);
    rs.on('data', (c: Buffer) => chunks.push(c));
    rs.once('error', reject);
    rs.once('end', () => resolve(Buffer.concat(chunks)));
  });
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Upload `bytes` random bytes to `path` and download them: rejects unless they come back the same. */
export async function roundTrip(sftp: SFTPWrapper, path: string, bytes: number): Promise<void> {
  const data = randomBytes(bytes);
  await upload(sftp, path, data);
  const back = await download(sftp, path);
  if (sha256(back) !== sha256(data)) throw new Error(`${path}: downloaded bytes differ from the upload`);
}

/**
 * Upload and download random files of `bytes` in a loop until `stop()` is called; every round
 * trip must come back byte-identical. `done` resolves with the number of rounds (rejects on the
 * first error or mismatch).
 */
export function transferLoop(sftp: SFTPWrapper, prefix: string, bytes: number): { stop(): void; rounds(): number; done: Promise<number> } {
  let stopped = false;
  let rounds = 0;
  const done = (async () => {
    while (!stopped) {
      await roundTrip(sftp, `${prefix}-${rounds}.bin`, bytes);
      rounds++;
    }
    return rounds;
  })();
  done.catch(() => {});
  return { stop: () => { stopped = true; }, rounds: () => rounds, done };
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Poll `check` every 50 ms until it returns true; reject with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** PIDs of the sshd listener's current session processes (its descendants). */
export function sshdSessionPids(sshdPid: number): Set<number> {
  return new Set(descendants(sshdPid));
}

/** Wait until every PID in `pids` has exited. */
export function waitGone(pids: Iterable<number>, timeoutMs: number, what: string): Promise<void> {
  const list = [...pids];
  return waitUntil(() => list.every((p) => !isAlive(p)), timeoutMs, what);
}

export const logFor = (remote: string, msg: string) => (l: LogLine): boolean => l.remote === remote && l.msg === msg;
