// Joins the client's SFTP channel to the upstream's, byte for byte. stream.pipe gives backpressure
// both ways (a slow side pauses the other, and SSH windows stop the peer); EOF, exit status,
// stderr and close travel across.
import type { ClientChannel } from 'ssh2';
import type { SftpChannel, TransferCounters } from '../server/backend.js';
import { StartDirRewriter } from './start-dir-rewriter.js';

/** `home`: directory the client should start in (see StartDirRewriter); unset: pure byte pipe. */
export function pipeChannels(client: SftpChannel, upstream: ClientChannel, counters: TransferCounters, home?: string): void {
  client.on('data', (chunk: Buffer) => { counters.bytesUp += chunk.length; });
  upstream.on('data', (chunk: Buffer) => { counters.bytesDown += chunk.length; });
  if (home) client.pipe(new StartDirRewriter(home)).pipe(upstream);
  else client.pipe(upstream);
  upstream.pipe(client);
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
}
