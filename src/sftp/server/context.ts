// What a request handler gets to work with, and the shape of a handler.
import type { Logger } from 'pino';
import type { SftpFileSystem } from './filesystem.js';
import type { HandleTable } from './handles.js';
import type { PacketReader } from '../protocol/packet-reader.js';
import type { ReadBudget } from './read-budget.js';
import type { RequestKind } from './scheduler.js';

export interface Limits {
  maxPacket: number;
  maxRead: number;
  maxWrite: number;
}

export interface SessionContext {
  readonly fs: SftpFileSystem;
  readonly handles: HandleTable;
  readonly counters: { bytesUp: number; bytesDown: number };
  readonly limits: Limits;
  /** Bytes of READ replies the session may hold: a READ waits here before touching the disk. */
  readonly reads: ReadBudget;
  readonly log: Logger;
  /** Aborted when the session ends: long requests (copy-data) stop instead of outliving it. */
  readonly ended: AbortSignal;
}

/**
 * Parses its arguments from `r` (positioned after the request id), does the work and returns
 * the reply packet. Throwing is the normal way to fail: the dispatcher maps the error to a
 * STATUS reply (see status.ts).
 */
export type Handler = (ctx: SessionContext, id: number, r: PacketReader) => Promise<Buffer>;

export interface Route {
  kind: RequestKind;
  handler: Handler;
}
