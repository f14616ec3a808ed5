// One audit event: one file operation, summarised (an upload or download is one event when its
// handle closes, not one per packet). The same shape goes to the log and to the Redis stream.
import type { AuditEventName } from '../sftp/protocol/request-table.js';

export type AuditEvent = {
  event: AuditEventName | 'denied';
  user: string;
  /** The client's address (`ip:port`). */
  remote: string;
  /** As the client named it; renames and links carry `from` and `to` instead. */
  path?: string;
  from?: string;
  to?: string;
  /** upload/download: bytes written/read through the handle. */
  bytes?: number;
  ms: number;
  ok: boolean;
  /** The SFTP status code of a failure. */
  status?: number;
  /** The session ended with the handle still open. */
  incomplete?: boolean;
  /** denied: the request, and the permission the user lacks. */
  request?: string;
  missing?: string;
};

export interface AuditSink {
  emit(e: AuditEvent): void;
}
