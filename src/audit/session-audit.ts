// One SFTP session's audit bookkeeping, fed with the requests and the replies as they pass (by the
// proxy's filter, or by our own server): which handle is which file, how many bytes went through
// it, and which requests are waiting for the status that completes their event. What it holds is
// bounded: a client can open many handles and send many requests, and past the bounds the
// excess is not audited (said once in the log) rather than remembered.
import type { Logger } from 'pino';
import { FX } from '../sftp/protocol/constants.js';
import type { AuditEventName } from '../sftp/protocol/request-table.js';
import type { AuditEvent, AuditSink } from './audit-event.js';

const MAX_PENDING = 10_000;
const MAX_HANDLES = 10_000;
/** Paths in events are cut here: a 256 KiB path must not become a 256 KiB log line. */
const MAX_PATH = 1024;

type Pending =
  | { kind: 'open'; path: string; write: boolean; read: boolean; started: number }
  | { kind: 'close'; handle: string; started: number }
  | { kind: 'write'; handle: string }
  | { kind: 'read'; handle: string }
  | { kind: 'op'; event: AuditEventName; fields: Partial<AuditEvent>; started: number };

interface OpenFile {
  path: string;
  write: boolean;
  read: boolean;
  bytesUp: number;
  bytesDown: number;
  started: number;
  failed: number | undefined;
}

export function pathText(b: Buffer): string {
  const s = b.toString('utf8');
  return s.length > MAX_PATH ? `${s.slice(0, MAX_PATH)}…` : s;
}

export class SessionAudit {
  private readonly pending = new Map<number, Pending>();
  private readonly files = new Map<string, OpenFile>();
  private overflowLogged = false;

  constructor(private readonly sink: AuditSink, private readonly who: { user: string; remote: string }, private readonly log: Logger) {}

  private track(id: number, p: Pending): void {
    if (this.pending.size >= MAX_PENDING && !this.pending.has(id)) return this.overflow();
    this.pending.set(id, p);
  }

  private overflow(): void {
    if (this.overflowLogged) return;
    this.overflowLogged = true;
    this.log.warn({ maxPending: MAX_PENDING, maxHandles: MAX_HANDLES }, 'audit: too many requests or handles in flight; the excess is not audited');
  }

  private emit(e: Omit<AuditEvent, 'user' | 'remote'>): void {
    this.sink.emit({ ...e, user: this.who.user, remote: this.who.remote });
  }

  opening(id: number, path: Buffer, read: boolean, write: boolean): void {
    this.track(id, { kind: 'open', path: pathText(path), read, write, started: Date.now() });
  }

  closing(id: number, handle: Buffer): void {
    const h = handle.toString('latin1');
    if (this.files.has(h)) this.track(id, { kind: 'close', handle: h, started: Date.now() });
  }

  writing(id: number, handle: Buffer, bytes: number): void {
    const h = handle.toString('latin1');
    const f = this.files.get(h);
    if (!f) return;
    f.bytesUp += bytes;
    this.track(id, { kind: 'write', handle: h });
  }

  reading(id: number, handle: Buffer): void {
    const h = handle.toString('latin1');
    if (this.files.has(h)) this.track(id, { kind: 'read', handle: h });
  }

  /** A request whose status reply completes `event`. */
  operation(id: number, event: AuditEventName, fields: Partial<AuditEvent>): void {
    this.track(id, { kind: 'op', event, fields, started: Date.now() });
  }

  /** The path a handle was opened with (for events on handles: FSETSTAT, copy-data). */
  pathOf(handle: Buffer): string | undefined {
    return this.files.get(handle.toString('latin1'))?.path;
  }

  denied(request: string, missing: string, fields: Partial<AuditEvent>): void {
    this.emit({ event: 'denied', request, missing, ms: 0, ok: false, status: FX.PERMISSION_DENIED, ...fields });
  }

  handleReply(id: number, handle: Buffer): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.kind !== 'open') return;
    if (this.files.size >= MAX_HANDLES) return this.overflow();
    this.files.set(handle.toString('latin1'), { path: p.path, read: p.read, write: p.write, bytesUp: 0, bytesDown: 0, started: p.started, failed: undefined });
  }

  dataReply(id: number, bytes: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.kind === 'read') {
      const f = this.files.get(p.handle);
      if (f) f.bytesDown += bytes;
    }
  }

  /** Any reply that is not HANDLE or DATA ends what its id was waiting for. */
  statusReply(id: number, code: number | undefined): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const ok = code === undefined || code === FX.OK;
    switch (p.kind) {
      case 'open':
        // An open that failed moved no bytes; still worth a line: someone tried.
        if (!ok) this.emit({ event: p.write ? 'upload' : 'download', path: p.path, bytes: 0, ms: Date.now() - p.started, ok: false, status: code });
        return;
      case 'write':
      case 'read': {
        const f = this.files.get(p.handle);
        if (f && !ok && code !== FX.EOF) f.failed ??= code;
        return;
      }
      case 'close': {
        const f = this.files.get(p.handle);
        if (!f) return;
        this.files.delete(p.handle);
        this.fileEvent(f, ok && f.failed === undefined ? undefined : (f.failed ?? code), false);
        return;
      }
      case 'op':
        this.emit({ event: p.event, ...p.fields, ms: Date.now() - p.started, ok, ...(ok ? {} : { status: code }) });
    }
  }

  private fileEvent(f: OpenFile, failure: number | undefined, incomplete: boolean): void {
    const upload = f.write && (f.bytesUp > 0 || !f.read);
    this.emit({
      event: upload ? 'upload' : 'download', path: f.path, bytes: upload ? f.bytesUp : f.bytesDown, ms: Date.now() - f.started,
      ok: failure === undefined && !incomplete, ...(failure !== undefined ? { status: failure } : {}), ...(incomplete ? { incomplete: true } : {}),
    });
  }

  /** The session ended: files still open are reported as incomplete. */
  end(): void {
    for (const f of this.files.values()) this.fileEvent(f, undefined, true);
    this.files.clear();
    this.pending.clear();
  }
}
