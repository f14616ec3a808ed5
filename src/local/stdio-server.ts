#!/usr/bin/env node
// Runs one SFTP session on stdin/stdout for the folder given as argv[2], so OpenSSH's client can
// talk to this server without SSH:  sftp -D "node dist/src/sftp/stdio-server.js /some/folder"
// Logs go to stderr as pino JSON (level from LOG_LEVEL, default warn); stdout is the protocol.
// SFTP_MAX_HANDLES overrides the per-session handle cap (default 256).
import { pino } from 'pino';
import { serveFolder } from './serve-folder.js';
import { stdioDuplex } from './stdio-stream.js';

const root = process.argv[2];
// process.stderr, not pino.destination(): no fsync of stderr at exit.
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, process.stderr);
if (!root) {
  log.error('usage: stdio-server.js <folder>');
  process.exit(2);
}

const stream = stdioDuplex();
const maxHandles = process.env.SFTP_MAX_HANDLES ? Number(process.env.SFTP_MAX_HANDLES) : undefined;
const session = serveFolder(stream, { root, log, maxHandles });
session.done.then(() => {
  log.info({ ...session.counters }, 'session done');
  process.exit(0);
});
