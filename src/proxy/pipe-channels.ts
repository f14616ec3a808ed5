// Joins the client's SFTP channel to the upstream's. With an inspector (the default) the bytes go
// through the SFTP filter (sftp-filter.ts: policy and audit, payloads untouched); without one they
// are piped blind, only the start directory applied. stream.pipe gives backpressure both ways (a
// slow side pauses the other, and SSH windows stop the peer); EOF, exit status, stderr and close
// travel across.
import type { ClientChannel } from 'ssh2';
import type { Logger } from 'pino';
import type { SftpChannel, TransferCounters } from '../server/backend.js';
import type { SftpInspector } from '../sftp/inspection.js';
import { SftpFilter } from './sftp-filter.js';
import { StartDirRewriter } from './start-dir-rewriter.js';

export interface PipeOptions {
  /** Sees every packet; its file byte counts become the session's counters. */
  inspector: SftpInspector | undefined;
  /** Without an inspector: the directory the client should start in (StartDirRewriter). */
  home?: string;
  log: Logger;
}

/** Pipes the two channels; the counters a session reports are returned live. */
export function pipeChannels(client: SftpChannel, upstream: ClientChannel, opts: PipeOptions): TransferCounters {
  let counters: TransferCounters;
  if (opts.inspector) {
    const inspector = opts.inspector;
    const filter = new SftpFilter(inspector, opts.log, (why) => {
      opts.log.warn({ problem: why }, 'sftp session closed: the stream cannot be framed');
      client.close();
      upstream.close();
    });
    client.pipe(filter.up).pipe(upstream);
    upstream.pipe(filter.down).pipe(client);
    client.once('close', () => filter.end());
    counters = { get bytesUp() { return inspector.fileBytes.up; }, get bytesDown() { return inspector.fileBytes.down; } };
  } else {
    const raw = { bytesUp: 0, bytesDown: 0 };
    client.on('data', (chunk: Buffer) => { raw.bytesUp += chunk.length; });
    upstream.on('data', (chunk: Buffer) => { raw.bytesDown += chunk.length; });
    if (opts.home) client.pipe(new StartDirRewriter(opts.home)).pipe(upstream);
    else client.pipe(upstream);
    upstream.pipe(client);
    counters = raw;
  }
  upstream.stderr.pipe(client.stderr, { end: false });

  upstream.on('exit', (code: number | null) => {
    if (typeof code === 'number') client.exit(code);
  });
  // Either side gone: the other goes too (ending the server channel sends EOF and CLOSE after
  // everything queued is written).
  upstream.on('close', () => client.end());
  client.on('close', () => upstream.close());
  // Errors surface as 'close' on both sides; a listener keeps them from being unhandled.
  client.on('error', () => upstream.close());
  upstream.on('error', () => client.end());
  return counters;
}
