/**
 * A long-lived SFTP session held open across a fault (ssh2's client, host key checked): the test
 * opens it, breaks something, then checks that the same session still works and was never closed.
 */
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { parsePublicLine } from './keys.js';

export interface LiveSftp {
  /** True once the SSH connection or the SFTP channel closed (for any reason). */
  readonly closed: boolean;
  /** What closed it, for assertion messages. */
  readonly closeReason: string;
  writeFile(remote: string, data: string): Promise<void>;
  readFile(remote: string): Promise<string>;
  readdir(remote: string): Promise<string[]>;
  end(): void;
}

export interface OpenLiveSftpOptions {
  port: number;
  user: string;
  keyPath: string;
  /** `ssh-ed25519 AAAA...` the server must show. */
  hostKeyLine: string;
  timeoutMs?: number;
}

export function openLiveSftp(o: OpenLiveSftpOptions): Promise<LiveSftp> {
  const expected = Buffer.from(parsePublicLine(o.hostKeyLine).blobBase64, 'base64');
  const client = new ssh2.Client();
  let closed = false;
  let closeReason = '';
  const markClosed = (why: string) => {
    if (!closed) { closed = true; closeReason = why; }
  };
  return new Promise((resolve, reject) => {
    client.once('error', (err) => { markClosed(`ssh error: ${err.message}`); reject(err); });
    client.once('close', () => { markClosed('ssh connection closed'); reject(new Error('closed before the session opened')); });
    client.once('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return reject(err);
        sftp.once('close', () => markClosed('sftp channel closed'));
        const p = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
          new Promise((res, rej) => fn((e, v) => (e ? rej(e) : res(v as T))));
        resolve({
          get closed() { return closed; },
          get closeReason() { return closeReason; },
          writeFile: (remote, data) => p<void>((cb) => sftp.writeFile(remote, data, (e) => cb(e))),
          readFile: async (remote) => (await p<Buffer>((cb) => sftp.readFile(remote, (e, b) => cb(e, b)))).toString('utf8'),
          readdir: async (remote) => (await p<ssh2.FileEntryWithStats[]>((cb) => sftp.readdir(remote, (e, l) => cb(e, l)))).map((e) => e.filename),
          end: () => client.end(),
        });
      });
    });
    client.connect({
      host: '127.0.0.1', port: o.port, username: o.user, privateKey: readFileSync(o.keyPath),
      readyTimeout: o.timeoutMs ?? 20_000, hostVerifier: (key: Buffer) => key.equals(expected),
    });
  });
}
