// An SFTP v3 server session on any duplex byte stream (an SSH channel, or stdin/stdout).
// This file owns the session lifecycle: framing input, admitting requests under flow control,
// batching replies, and tearing down (every handle closed before `done` resolves). What each
// request does lives in ops-*.ts; the disk is behind the SftpFileSystem it is given (filesystem.ts).
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import {
  ADVERTISED_EXTENSIONS,
  DEFAULT_MAX_HANDLES,
  DEFAULT_MAX_PACKET,
  FX,
  FXP,
  PACKET_HEADROOM,
  SFTP_VERSION,
} from '../protocol/constants.js';
import type { Route, SessionContext } from './context.js';
import { ROUTES } from './dispatch.js';
import { PacketFramer } from '../protocol/framer.js';
import type { InspectAction, SftpInspector } from '../inspection.js';
import { FsRefusal, type SftpFileSystem } from './filesystem.js';
import { HandleLimitError, HandleTable, type HandleQuota } from './handles.js';
import { EXTENDED_ROUTES } from './ops-extended.js';
import { releaseHandle } from './ops-file.js';
import { PacketError, PacketReader } from '../protocol/packet-reader.js';
import { statusReply, versionReply } from '../protocol/replies.js';
import { readBuffers } from './read-buffers.js';
import { DEFAULT_READ_BUDGET, ReadBudget } from './read-budget.js';
import { RequestScheduler } from './scheduler.js';
import { SftpStatusError, statusOf } from './status.js';

export interface SftpServerOptions {
  /**
   * The file system this session serves (local mode: the user's confined folder). `ended` is
   * aborted when the session ends, so long work in it (a path walk) can stop.
   */
  fs: (ended: AbortSignal) => SftpFileSystem;
  /** Sees every request before it runs (may deny or change it) and every reply: policy and audit. */
  inspector?: SftpInspector;
  /** pino child logger (already carries {user, remote}). */
  log: Logger;
  /** Default 256 open handles per session. */
  maxHandles?: number;
  /**
   * Descriptors shared with the user's other sessions and the whole process (local mode's
   * HandleBudget). The session's folder descriptor is drawn from it too; unset: no shared cap.
   */
  handleQuota?: HandleQuota;
  /** Default 256 KiB; a larger incoming packet length closes the session. */
  maxPacketBytes?: number;
  /**
   * Bytes of READ replies held (read, or written and still in the stream's buffer) before
   * further READs wait. Default 2 MiB, what the SSH window takes next.
   */
  readBudgetBytes?: number;
  /**
   * Requests accepted but not yet answered before we stop reading input. Default 64 (what the
   * OpenSSH client pipelines); bounds memory to about this many packets per session.
   */
  maxInflight?: number;
  /**
   * Bytes of those requests (their packets are held until they finish) before we stop reading
   * input; one request is always admitted. Default 2 MiB: 64 WRITEs of 256 KiB parked behind a
   * request that cannot finish would otherwise hold 16 MiB per session.
   */
  maxInflightBytes?: number;
  /**
   * The stream copies what it is given before it calls a write back (an ssh2 channel: into its
   * SSH packets), so the buffer of a large READ reply can be lent to the next READ then. Not
   * for streams that may still hold the chunk after calling back (Duplex.from over stdout).
   */
  copiesOnWrite?: boolean;
}

export interface SftpServerSession {
  /** File bytes written by the client / read by the client. */
  readonly counters: { bytesUp: number; bytesDown: number };
  /** Resolves when the session ended and every handle is closed. */
  readonly done: Promise<void>;
  /** Handles currently open (metrics, tests). */
  readonly openHandles: number;
  /** End the session: close all handles, end the stream. */
  close(): void;
}

export function serveSftp(stream: Duplex, opts: SftpServerOptions): SftpServerSession {
  return new Session(stream, opts);
}

/** Default bytes of request packets held at once (see maxInflightBytes). */
const DEFAULT_INFLIGHT_BYTES = 2 * 1024 * 1024;

/** Replies smaller than this are gathered and written together: fewer SSH channel packets. */
const BATCH_BYTES = 16 * 1024;

/**
 * An SSH server channel (ssh2 ServerChannel) can report an exit status before EOF, as sshd does
 * for sftp-server: 0 after a normal end, 1 after a protocol violation. It must be sent before
 * end(), so the session does it; callers need not (and cannot, after `done`).
 */
interface MaybeExitChannel {
  exit?: (status: number) => void;
}

class Session implements SftpServerSession {
  readonly counters = { bytesUp: 0, bytesDown: 0 };
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly log: Logger;
  private readonly ctx: SessionContext | null = null;
  private readonly framer: PacketFramer;
  private readonly scheduler: RequestScheduler;
  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;
  /** Bytes of the request packets admitted and not yet finished. */
  private inflightBytes = 0;
  private initialized = false;
  private inputEnded = false;
  private aborted = false;
  private finishing = false;
  private exitStatus = 0;
  private writeBlocked = false;
  private readonly copiesOnWrite: boolean;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private readonly ended = new AbortController();
  /** Refusals this session has logged already (once each: log volume is a resource too). */
  private readonly loggedOnce = new Set<string>();
  /** The folder's descriptor, drawn from opts.handleQuota while the session holds it. */
  private folderQuota: HandleQuota | undefined;
  private readonly inspector: SftpInspector | undefined;

  constructor(
    private readonly stream: Duplex,
    opts: SftpServerOptions,
  ) {
    this.log = opts.log;
    this.inspector = opts.inspector;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    // Below a few KiB even a path or a directory listing could not be sent: not a sane limit.
    const maxPacket = Math.max(opts.maxPacketBytes ?? DEFAULT_MAX_PACKET, 4 * PACKET_HEADROOM);
    this.maxInflight = Math.max(opts.maxInflight ?? 64, 1);
    this.maxInflightBytes = opts.maxInflightBytes ?? DEFAULT_INFLIGHT_BYTES;
    this.copiesOnWrite = opts.copiesOnWrite ?? false;
    this.framer = new PacketFramer(maxPacket);
    this.scheduler = new RequestScheduler(() => this.pump());
    stream.on('error', (err) => {
      this.log.debug({ err }, 'sftp stream error');
      this.abort();
    });
    stream.on('close', () => this.abort());
    const full = opts.handleQuota?.take(1);
    if (full) {
      this.log.warn({ cap: full }, 'sftp session refused: too many open handles');
      this.exitStatus = 1;
      this.abort();
      return;
    }
    this.folderQuota = opts.handleQuota;
    try {
      this.ctx = {
        fs: opts.fs(this.ended.signal),
        handles: new HandleTable(opts.maxHandles ?? DEFAULT_MAX_HANDLES, opts.handleQuota),
        counters: this.counters,
        limits: { maxPacket, maxRead: maxPacket - PACKET_HEADROOM, maxWrite: maxPacket - PACKET_HEADROOM },
        reads: new ReadBudget(opts.readBudgetBytes ?? DEFAULT_READ_BUDGET, () => stream.writableLength + this.batchBytes,
          this.ended.signal),
        log: this.log,
        ended: this.ended.signal,
      };
    } catch (err) {
      this.log.error({ err }, 'cannot serve the sftp folder');
      this.exitStatus = 1;
      this.abort();
      return;
    }
    stream.on('data', (chunk: Buffer) => {
      // After an abort nothing more is parsed; keeping it would let a peer grow our memory.
      if (this.aborted) return;
      this.framer.push(chunk);
      this.pump();
    });
    stream.on('end', () => {
      this.inputEnded = true;
      this.pump();
    });
    stream.resume(); // in case the caller paused it: a 'data' listener alone would not resume
  }

  get openHandles(): number {
    return this.ctx?.handles.size ?? 0;
  }

  close(): void {
    this.abort();
  }

  /** Admit framed requests while the client is allowed more in flight and our output drains. */
  private pump(): void {
    if (this.aborted || this.finishing) return;
    while (this.mayAdmit()) {
      const frame = this.framer.next();
      if (frame === null) break;
      if (frame.kind === 'bad-length') {
        this.protocolError({ length: frame.length }, 'sftp packet length out of range, closing session');
        return;
      }
      this.handlePacket(frame.body);
      if (this.aborted) return;
    }
    if (this.inputEnded) {
      if (this.scheduler.pending === 0 && this.framer.next() === null) {
        if (this.framer.bufferedBytes > 0) this.log.debug('client ended inside a packet');
        this.finishSoon();
      }
      return;
    }
    if (this.mayAdmit()) this.stream.resume();
    else this.stream.pause();
  }

  /** Room for one more request: output drains, and the requests held are few and small enough. */
  private mayAdmit(): boolean {
    const pending = this.scheduler.pending;
    return !this.writeBlocked && pending < this.maxInflight && (pending === 0 || this.inflightBytes < this.maxInflightBytes);
  }

  private handlePacket(body: Buffer): void {
    const type = body[0]!;
    if (!this.initialized) {
      if (type !== FXP.INIT || body.length < 5) {
        this.protocolError({ type }, 'sftp session did not start with INIT');
        return;
      }
      // The client's version and extensions change nothing: we speak v3 with our extensions.
      this.initialized = true;
      this.send(versionReply(SFTP_VERSION, ADVERTISED_EXTENSIONS));
      return;
    }
    if (type === FXP.INIT) {
      this.protocolError({}, 'second sftp INIT');
      return;
    }
    if (body.length < 5) {
      this.protocolError({ type }, 'sftp request without id');
      return;
    }
    const inspector = this.inspector;
    if (!inspector) return this.dispatch(body);
    let action: InspectAction;
    try {
      action = inspector.request(body, body.length);
    } catch (err) {
      // As the proxy's filter: a request the policy could not judge is refused, never run unjudged.
      this.log.error({ err, type }, 'bug: sftp inspection failed; request denied');
      return this.send(statusReply(body.readUInt32BE(1), FX.PERMISSION_DENIED));
    }
    if (action.kind !== 'probe') return this.apply(action, body);
    // Whether the path exists decides (a user without "overwrite"): asked in order with the
    // other requests, as one serial step with what follows from it.
    this.inflightBytes += body.length;
    this.scheduler.submit('serial', async () => {
      // Only "no such file" means missing; any other failure counts as there (fail closed, as the proxy).
      const exists = await this.ctx!.fs.stat(action.path, false).then(() => true, (err: unknown) => statusOf(err).code !== FX.NO_SUCH_FILE);
      this.inflightBytes -= body.length;
      let next: InspectAction;
      try {
        next = action.then(exists);
      } catch (err) {
        this.log.error({ err, type }, 'bug: sftp inspection failed after a probe; request denied');
        return this.send(statusReply(body.readUInt32BE(1), FX.PERMISSION_DENIED));
      }
      if (next.kind === 'probe') return; // a probe answers with what to do, never another probe
      if (next.kind === 'reply') return this.send(next.packet);
      const run = this.route(next.kind === 'replace' ? next.packet.subarray(4) : body);
      if (run) await run.task();
    });
  }

  private apply(action: Exclude<InspectAction, { kind: 'probe' }>, body: Buffer): void {
    if (action.kind === 'reply') return this.send(action.packet);
    this.dispatch(action.kind === 'replace' ? action.packet.subarray(4) : body);
  }

  /** Queue a request for its handler (serial or side by side, as its route says). */
  private dispatch(body: Buffer): void {
    const run = this.route(body);
    if (!run) return;
    this.inflightBytes += body.length;
    this.scheduler.submit(run.kind, async () => {
      await run.task();
      this.inflightBytes -= body.length;
    });
  }

  /** The handler for a request, ready to run; undefined when it was answered at once. */
  private route(body: Buffer): { kind: Route['kind']; task: () => Promise<void> } | undefined {
    const type = body[0]!;
    const id = body.readUInt32BE(1);
    const r = new PacketReader(body, 5);
    let route: Route | undefined;
    if (type === FXP.EXTENDED) {
      let name: string;
      try {
        name = r.utf8();
      } catch {
        this.send(statusReply(id, FX.BAD_MESSAGE));
        return undefined;
      }
      route = EXTENDED_ROUTES.get(name);
    } else {
      route = ROUTES.get(type);
    }
    if (route === undefined) {
      this.log.debug({ type }, 'unsupported sftp request');
      this.send(statusReply(id, FX.OP_UNSUPPORTED));
      return undefined;
    }
    const { handler } = route;
    const ctx = this.ctx!;
    return {
      kind: route.kind,
      task: async () => {
        let reply: Buffer;
        try {
          reply = await handler(ctx, id, r);
        } catch (err) {
          this.logFailure(err, type);
          const s = statusOf(err);
          reply = statusReply(id, s.code, s.message);
        }
        this.send(reply);
      },
    };
  }

  /**
   * Ordinary failures (ENOENT...) are the client's business; escapes, refusals and surprises are
   * ours, logged once per session and kind: a client repeating them must not fill the log.
   */
  private logFailure(err: unknown, type: number): void {
    if (err instanceof FsRefusal) {
      if (!this.once(err.reason)) return;
      if (err.reason === 'swapped') this.log.warn({ type }, 'sftp path component swapped for a symlink during use: refused');
      else if (err.reason === 'outside') this.log.info({ type }, 'sftp path leads outside the folder: refused');
      else this.log.warn({ type, ...err.detail }, 'sftp setuid/setgid on a file refused: the server runs as root');
    } else if (err instanceof HandleLimitError) {
      if (this.once(`cap:${err.cap}`)) this.log.warn({ type, cap: err.cap }, 'sftp open refused: too many open handles');
    } else if (err instanceof PacketError) {
      this.log.debug({ type }, 'malformed sftp request');
    } else if (!(err instanceof SftpStatusError) && typeof (err as { code?: unknown } | null)?.code !== 'string') {
      if (this.once('unexpected')) this.log.warn({ err, type }, 'unexpected error in sftp request');
    }
  }

  /** True the first time `what` is seen in this session. */
  private once(what: string): boolean {
    if (this.loggedOnce.has(what)) return false;
    this.loggedOnce.add(what);
    return true;
  }

  private protocolError(fields: object, msg: string): void {
    this.log.warn(fields, msg);
    this.exitStatus = 1;
    this.abort();
  }

  private send(buf: Buffer): void {
    if (!this.stream.writable) return;
    try {
      this.inspector?.reply(buf.subarray(4));
    } catch (err) {
      this.log.error({ err }, 'bug: sftp reply inspection failed');
    }
    if (buf.length >= BATCH_BYTES) {
      this.flush();
      this.write(buf);
      return;
    }
    this.batch.push(buf);
    this.batchBytes += buf.length;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      // Replies finishing in the same event-loop turn (e.g. 64 write acks) leave as one write.
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.batch.length === 0) return;
    const out = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    this.write(out);
  }

  /** A write left the stream's buffer: READs waiting for room may go on. */
  private readonly onWritten = (): void => this.ctx?.reads.wake();

  private write(buf: Buffer): void {
    if (!this.stream.writable) return;
    const done = this.copiesOnWrite && readBuffers.lent(buf) ? (err?: Error | null) => {
      if (!err) readBuffers.giveBack(buf); // the channel has copied it into its packets
      this.onWritten();
    } : this.onWritten;
    if (this.stream.write(buf, done) || this.writeBlocked) return;
    this.writeBlocked = true;
    this.stream.once('drain', () => {
      this.writeBlocked = false;
      this.pump();
    });
  }

  /** Stop taking requests now; finish the running ones, then tear down. */
  private abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.ended.abort();
    this.scheduler.dropQueued();
    this.finishSoon();
  }

  /** finish() in the background; a failure there is logged, never an unhandled rejection. */
  private finishSoon(): void {
    this.finish().catch((err: unknown) => {
      this.log.warn({ err }, 'sftp session teardown failed');
      this.resolveDone();
    });
  }

  private async finish(): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    await this.scheduler.idle();
    if (this.ctx) {
      for (const h of this.ctx.handles.drain()) {
        await releaseHandle(this.ctx, h).catch((err: unknown) => this.log.warn({ err }, 'closing sftp handle failed'));
      }
      this.ctx.fs.close();
    }
    this.folderQuota?.give(1);
    this.folderQuota = undefined;
    this.inspector?.end();
    this.flush();
    if (this.stream.writable) {
      (this.stream as Duplex & MaybeExitChannel).exit?.(this.exitStatus);
      this.stream.end();
    }
    this.log.debug({ ...this.counters }, 'sftp session ended');
    this.resolveDone();
  }
}
