// The backend seam: what serves an authenticated user's SFTP sessions. The upstream proxy and the
// local folder server each implement Backend; the SSH front server knows only this.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuthorizedUser, StoredUser } from '../auth/user-store.js';
import type { SftpInspector } from '../sftp/inspection.js';

/**
 * An accepted SFTP subsystem channel: a duplex byte stream plus the SSH channel extras.
 * (ssh2's ServerChannel fits this shape.)
 */
export interface SftpChannel extends Duplex {
  stderr: NodeJS.WritableStream;
  exit(status: number): void;
  close(): void;
}

export interface ConnectionContext {
  user: AuthorizedUser;
  /**
   * Makes each SFTP session's inspector (policy and audit; `home`: the proxy's start directory);
   * undefined when inspection is off (--sftp-filter off: proxy mode pipes blind).
   */
  inspector: ((opts?: { home?: string }) => SftpInspector) | undefined;
  /** `ip:port` of the client. */
  remote: string;
  /** Child logger carrying {user, remote}. */
  log: Logger;
}

/** Byte counters a backend reports for the session-end log line. */
export interface TransferCounters {
  /** Bytes from the client towards the backend. */
  bytesUp: number;
  /** Bytes from the backend towards the client. */
  bytesDown: number;
}

/** One authenticated SSH connection's link to its backend. */
export interface BackendConnection {
  /** Serve SFTP on an already-accepted channel. Data may already be buffered in it. */
  openSftp(channel: SftpChannel): void;
  readonly counters: TransferCounters;
  /** The client connection ended: release everything (upstream connection, file handles). */
  close(): void;
}

export interface Backend {
  /**
   * Why this backend cannot serve `user` logging in with `keyBlob` (a users-file entry with a
   * folder in proxy mode, the proxy's own upstream key, ...), or undefined. Asked before the
   * login is accepted, so such a user is refused, not half-served.
   */
  refusal(user: StoredUser, keyBlob: Buffer): string | undefined;
  /** Called once per authenticated connection, before the client opens any channel. */
  connect(ctx: ConnectionContext): BackendConnection;
  close(): Promise<void>;
}
