/**
 * The proxy's SFTP filter (src/proxy/sftp-filter.ts) with the real inspector and audit, fed by
 * the test: bytes written to `fromClient` / `fromUpstream`, what leaves collected in `toUpstream`
 * / `toClient` (the client side can be left unread, to play a client that never reads).
 */
import pino from 'pino';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { SessionAudit } from '../../src/audit/session-audit.js';
import { parsePermissions } from '../../src/policy/permissions.js';
import { PolicyInspector } from '../../src/policy/sftp-inspector.js';
import { SftpFilter } from '../../src/proxy/sftp-filter.js';
import { FXP } from '../../src/sftp/protocol/constants.js';
import { PacketFramer } from '../../src/sftp/protocol/framer.js';
import { PacketWriter } from '../../src/sftp/protocol/packet-writer.js';

export interface FilterRig {
  filter: SftpFilter;
  inspector: PolicyInspector;
  events: AuditEvent[];
  /** Bytes the upstream received so far. */
  toUpstream(): Buffer;
  /** Bytes the client received so far (empty while `readClient` is false). */
  toClient(): Buffer;
  /** Start reading the client side (if it was left unread). */
  readClient(): void;
  fromClient(bytes: Buffer): boolean;
  fromUpstream(bytes: Buffer): boolean;
  /** Let queued stream work and promise callbacks run. */
  settle(): Promise<void>;
  broken: string[];
}

export function filterRig(permissions: string, o: { readClient?: boolean; home?: string } = {}): FilterRig {
  const parsed = parsePermissions(permissions);
  if (!parsed.ok) throw new Error(`bad permissions ${permissions}`);
  const log = pino({ level: 'silent' });
  const events: AuditEvent[] = [];
  const audit = new SessionAudit({ emit: (e) => events.push(e) }, { user: 'u', remote: '127.0.0.1:1' }, log);
  const inspector = new PolicyInspector({ permissions: () => parsed.permissions, audit, log, home: o.home });
  const broken: string[] = [];
  const filter = new SftpFilter(inspector, log, (why) => broken.push(why));
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  filter.up.on('data', (c: Buffer) => up.push(Buffer.from(c)));
  const readClient = (): void => {
    filter.down.on('data', (c: Buffer) => down.push(Buffer.from(c)));
  };
  if (o.readClient !== false) readClient();
  return {
    filter, inspector, events, broken, readClient,
    toUpstream: () => Buffer.concat(up),
    toClient: () => Buffer.concat(down),
    fromClient: (b) => filter.up.write(b),
    fromUpstream: (b) => filter.down.write(b),
    settle: () => new Promise((r) => setTimeout(r, 5)),
  };
}

/** The packets (bodies: type byte onwards) in a byte stream. */
export function packets(bytes: Buffer): Buffer[] {
  const f = new PacketFramer(16 * 1024 * 1024);
  f.push(bytes);
  const out: Buffer[] = [];
  for (let p = f.next(); p !== null; p = f.next()) {
    if (p.kind !== 'packet') throw new Error('bad length in output');
    out.push(Buffer.from(p.body));
  }
  return out;
}

export const init = (): Buffer => new PacketWriter(FXP.INIT).u32(3).finish();
export const version = (): Buffer => new PacketWriter(FXP.VERSION).u32(3).finish();

export function req(type: number, id: number, build: (w: PacketWriter) => void = () => undefined): Buffer {
  const w = new PacketWriter(type, 64).u32(id);
  build(w);
  return w.finish();
}

export function status(id: number, code: number): Buffer {
  return new PacketWriter(FXP.STATUS, 32).u32(id).u32(code).string('').string('').finish();
}

export function handleReply(id: number, handle: Buffer): Buffer {
  return new PacketWriter(FXP.HANDLE, 32).u32(id).string(handle).finish();
}

export function dataReply(id: number, data: Buffer): Buffer {
  return new PacketWriter(FXP.DATA, 32 + data.length).u32(id).string(data).finish();
}

/** Type and id of a packet body. */
export function head(body: Buffer): { type: number; id: number } {
  return { type: body[0]!, id: body.readUInt32BE(1) };
}
