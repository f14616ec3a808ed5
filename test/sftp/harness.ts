// Shared test setup: real temp folders, a session over an in-memory pipe, a quiet logger.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { type SftpServerOptions, type SftpServerSession } from '../../src/sftp/server/session.js';
import { serveFolder } from '../../src/local/serve-folder.js';
import { duplexPair } from './duplex-pair.js';
import { RawSftpClient } from './raw-client.js';

export function tempDir(prefix = 'sftp-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A logger that keeps its JSON lines for assertions. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level }, sink);
  return { log, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export const quietLog: Logger = pino({ level: 'silent' });

export interface TestSession {
  client: RawSftpClient;
  session: SftpServerSession;
}

/** serveSftp on one end of an in-memory pipe, INIT done on the other. */
export async function startSession(root: string, opts: Partial<SftpServerOptions> = {}): Promise<TestSession> {
  const [clientEnd, serverEnd] = duplexPair();
  const session = serveFolder(serverEnd, { root, log: quietLog, ...opts });
  const client = await RawSftpClient.connect(clientEnd);
  return { client, session };
}

/** End the client side and wait for the server to finish (handles closed, stream ended). */
export async function stopSession(t: TestSession): Promise<void> {
  t.client.end();
  await t.session.done;
  await t.client.endedPromise;
}
