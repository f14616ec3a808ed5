// Child process of the idle case: holds many ssh2 SFTP sessions open so the proxy's memory can be
// measured without the clients living in the same process. Driven by IPC messages:
//   {cmd:'open', ...} → opens `count` sessions, `batch` at a time, replies 'progress'… then 'opened'
//   {cmd:'check'}     → one realpath('.') per live session, replies 'checked'
//   {cmd:'close'}     → ends every session, replies 'closed'
//   {cmd:'exit'}      → exits
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ssh2, { type SFTPWrapper } from 'ssh2';

export interface OpenCommand {
  cmd: 'open';
  port: number;
  user: string;
  keyPath: string;
  /** base64 sha256 of the server's host key blob. */
  hostFingerprint: string;
  count: number;
  batch: number;
}
export type IdleCommand = OpenCommand | { cmd: 'check' } | { cmd: 'close' } | { cmd: 'exit' };

export type IdleReply =
  | { type: 'progress'; open: number; errors: number }
  | { type: 'opened'; open: number; errors: number; errorSamples: string[]; ms: number; stoppedEarly: boolean }
  | { type: 'checked'; ok: number; failed: number; dropped: number; errorSamples: string[] }
  | { type: 'closed'; ms: number };

interface Session {
  client: ssh2.Client;
  sftp: SFTPWrapper;
  closing: boolean;
}

const sessions: Session[] = [];
let dropped = 0;

function send(reply: IdleReply): void {
  process.send!(reply);
}

function openOne(o: OpenCommand, key: Buffer): Promise<Session> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let session: Session | undefined;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.on('error', (err) => fail(err));
    client.on('close', () => {
      if (!settled) return fail(new Error('connection closed before the SFTP reply'));
      if (session && !session.closing) dropped++;
    });
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return fail(err);
        settled = true;
        session = { client, sftp, closing: false };
        resolve(session);
      });
    });
    client.connect({
      host: '127.0.0.1',
      port: o.port,
      username: o.user,
      privateKey: key,
      readyTimeout: 120_000,
      hostVerifier: (blob: Buffer) => createHash('sha256').update(blob).digest('base64') === o.hostFingerprint,
    } as ssh2.ConnectConfig);
  });
}

async function open(o: OpenCommand): Promise<void> {
  const key = readFileSync(o.keyPath);
  const started = Date.now();
  let errors = 0;
  let stoppedEarly = false;
  const errorSamples: string[] = [];
  for (let done = 0; done < o.count; done += o.batch) {
    const n = Math.min(o.batch, o.count - done);
    const results = await Promise.allSettled(Array.from({ length: n }, () => openOne(o, key)));
    let batchErrors = 0;
    for (const r of results) {
      if (r.status === 'fulfilled') sessions.push(r.value);
      else {
        batchErrors++;
        if (errorSamples.length < 5) errorSamples.push(String((r.reason as Error).message ?? r.reason));
      }
    }
    errors += batchErrors;
    send({ type: 'progress', open: sessions.length, errors });
    if (batchErrors === n) {
      stoppedEarly = true; // a whole batch failed: the limit is reached, more attempts only cost time
      break;
    }
  }
  send({ type: 'opened', open: sessions.length, errors, errorSamples, ms: Date.now() - started, stoppedEarly });
}

async function check(): Promise<void> {
  const errorSamples: string[] = [];
  let ok = 0;
  let failed = 0;
  await Promise.all(sessions.map((s) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => { failed++; if (errorSamples.length < 5) errorSamples.push('realpath: no reply in 60 s'); resolve(); }, 60_000);
    s.sftp.realpath('.', (err) => {
      clearTimeout(timer);
      if (err) {
        failed++;
        if (errorSamples.length < 5) errorSamples.push(`realpath: ${err.message}`);
      } else ok++;
      resolve();
    });
  })));
  send({ type: 'checked', ok, failed, dropped, errorSamples });
}

async function close(): Promise<void> {
  const started = Date.now();
  await Promise.all(sessions.map((s) => new Promise<void>((resolve) => {
    s.closing = true;
    const timer = setTimeout(resolve, 20_000);
    s.client.once('close', () => { clearTimeout(timer); resolve(); });
    s.client.end();
  })));
  sessions.length = 0;
  dropped = 0;
  send({ type: 'closed', ms: Date.now() - started });
}

process.on('message', (m: IdleCommand) => {
  const run = m.cmd === 'open' ? open(m) : m.cmd === 'check' ? check() : m.cmd === 'close' ? close() : Promise.resolve(process.exit(0));
  run.catch((err: Error) => {
    process.stderr.write(`idle-client: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
