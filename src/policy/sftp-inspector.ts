// A session's inspector: every request is decided by the user's permissions (sftp-policy.ts) and
// recorded for the audit (session-audit.ts); every reply completes what it answers. Permissions
// are read at each request, so a change made while the session runs applies to its next request.
import type { Logger } from 'pino';
import type { SessionAudit } from '../audit/session-audit.js';
import { pathText } from '../audit/session-audit.js';
import { FX, FXF, FXP } from '../sftp/protocol/constants.js';
import { PacketWriter } from '../sftp/protocol/packet-writer.js';
import { statusReply } from '../sftp/protocol/replies.js';
import { decodeReply, decodeRequest, type SftpRequest } from '../sftp/protocol/requests.js';
import type { InspectAction, SftpInspector } from '../sftp/inspection.js';
import { formatPermissions, type Permissions } from './permissions.js';
import { decide, type Rewrite, type Verdict } from './sftp-policy.js';

export interface InspectorOptions {
  permissions: () => Permissions;
  audit: SessionAudit;
  log: Logger;
  /** Proxy mode: the start directory clients are given for REALPATH of "." (the route's home). */
  home?: string;
}

const PASS: InspectAction = Object.freeze({ kind: 'pass' });
/** A WRITE body before its handle's bytes and after: type, id, handle length, offset, data length. */
const WRITE_HEADER = 1 + 4 + 4 + 8 + 4;

export class PolicyInspector implements SftpInspector {
  readonly fileBytes = { up: 0, down: 0 };
  private readonly home: Buffer | undefined;
  private loggedDenied = 0;

  constructor(private readonly opts: InspectorOptions) {
    this.home = opts.home === undefined ? undefined : Buffer.from(opts.home);
  }

  request(head: Buffer, total: number): InspectAction {
    if (head[0] === FXP.INIT) return PASS;
    const permissions = this.opts.permissions();
    let req: SftpRequest;
    try {
      req = decodeRequest(head);
    } catch {
      // Malformed (or a WRITE head cut short by a handle longer than any server gives): the
      // server would answer BAD_MESSAGE, but what it makes of bytes we cannot read is not ours to
      // guess. Passed for a user who may do anything, refused for anyone else.
      return formatPermissions(permissions) === '*' ? PASS : this.denyMalformed(head);
    }
    const verdict = decide(req, permissions);
    return this.act(req, verdict, head, total);
  }

  private denyMalformed(head: Buffer): InspectAction {
    if (head.length < 5) return PASS; // no id to answer: the server closes such a session
    const request = `malformed type ${head[0]}`;
    this.opts.audit.denied(request, 'a well-formed request', {});
    if (this.loggedDenied++ < 20) this.opts.log.debug({ request }, 'sftp request denied: malformed');
    return { kind: 'reply', packet: statusReply(head.readUInt32BE(1), FX.PERMISSION_DENIED) };
  }

  private act(req: SftpRequest, verdict: Verdict, head: Buffer, total: number): InspectAction {
    if (verdict.kind === 'deny') return this.deny(req, verdict.rule?.name ?? unknownName(req), verdict.missing);
    if (verdict.kind === 'probe') {
      return {
        kind: 'probe',
        path: verdict.path,
        then: (exists) => (exists ? this.deny(req, verdict.rule.name, 'overwrite') : this.proceed(req, verdict.unlessExists, head, total)),
      };
    }
    return this.proceed(req, { kind: 'as-is' }, head, total);
  }

  private deny(req: SftpRequest, request: string, missing: string): InspectAction {
    this.opts.audit.denied(request, missing, describe(req));
    if (this.loggedDenied++ < 20) this.opts.log.debug({ request, missing }, 'sftp request denied by permissions');
    return { kind: 'reply', packet: statusReply(req.id, FX.PERMISSION_DENIED) };
  }

  /** Allowed: recorded for the audit, and sent as it is or as `rewrite` says. */
  private proceed(req: SftpRequest, rewrite: Rewrite, head: Buffer, total: number): InspectAction {
    const audit = this.opts.audit;
    switch (req.type) {
      case FXP.OPEN:
        audit.opening(req.id, req.path, (req.pflags & FXF.READ) !== 0, (req.pflags & (FXF.WRITE | FXF.APPEND | FXF.CREAT | FXF.TRUNC)) !== 0);
        if (rewrite.kind === 'answer-missing') {
          // Answered here (see Rewrite): the audit hears the same as from a server's reply.
          audit.statusReply(req.id, FX.NO_SUCH_FILE);
          return { kind: 'reply', packet: statusReply(req.id, FX.NO_SUCH_FILE) };
        }
        break;
      case FXP.CLOSE: audit.closing(req.id, req.handle); break;
      case FXP.WRITE: {
        // What the packet carries, not what it claims: a lying length must not inflate the counts.
        const bytes = Math.min(req.length, Math.max(0, total - WRITE_HEADER - req.handle.length));
        this.fileBytes.up += bytes;
        audit.writing(req.id, req.handle, bytes);
        break;
      }
      case FXP.READ: audit.reading(req.id, req.handle); break;
      case FXP.REMOVE: audit.operation(req.id, 'remove', { path: pathText(req.path) }); break;
      case FXP.RMDIR: audit.operation(req.id, 'rmdir', { path: pathText(req.path) }); break;
      case FXP.MKDIR: audit.operation(req.id, 'mkdir', { path: pathText(req.path) }); break;
      case FXP.SETSTAT: audit.operation(req.id, 'setstat', { path: pathText(req.path) }); break;
      case FXP.FSETSTAT: audit.operation(req.id, 'setstat', { path: audit.pathOf(req.handle) }); break;
      case FXP.RENAME: audit.operation(req.id, 'rename', { from: pathText(req.path), to: pathText(req.to) }); break;
      case FXP.SYMLINK: audit.operation(req.id, 'symlink', { path: pathText(req.path), to: pathText(req.target) }); break;
      case FXP.REALPATH:
        if (this.home && (req.path.length === 0 || (req.path.length === 1 && req.path[0] === 0x2e))) {
          return { kind: 'replace', packet: new PacketWriter(FXP.REALPATH, 32 + this.home.length).u32(req.id).string(this.home).finish() };
        }
        break;
      case FXP.EXTENDED: {
        const e = req.ext;
        if (e.kind === 'rename') audit.operation(req.id, 'rename', { from: pathText(e.path), to: pathText(e.to) });
        else if (e.kind === 'hardlink') audit.operation(req.id, 'hardlink', { from: pathText(e.path), to: pathText(e.to) });
        else if (e.kind === 'setstat') audit.operation(req.id, 'setstat', { path: pathText(e.path) });
        else if (e.kind === 'copy') audit.operation(req.id, 'copy', { from: audit.pathOf(e.from), to: audit.pathOf(e.to) });
        break;
      }
    }
    if (rewrite.kind === 'add-excl') {
      // The client's OPEN (read whole: it is small) with EXCL in its flags, attributes untouched.
      const packet = Buffer.allocUnsafe(4 + head.length);
      packet.writeUInt32BE(head.length, 0);
      head.copy(packet, 4);
      packet.writeUInt32BE(rewrite.pflags >>> 0, 4 + rewrite.pflagsAt);
      return { kind: 'replace', packet };
    }
    if (rewrite.kind === 'posix-to-rename') {
      return { kind: 'replace', packet: new PacketWriter(FXP.RENAME, 64 + rewrite.from.length + rewrite.to.length).u32(req.id).string(rewrite.from).string(rewrite.to).finish() };
    }
    return PASS;
  }

  reply(head: Buffer): void {
    if (head[0] === FXP.VERSION) return;
    let r;
    try {
      r = decodeReply(head);
    } catch {
      return;
    }
    if (r.type === FXP.HANDLE) this.opts.audit.handleReply(r.id, r.handle);
    else if (r.type === FXP.DATA) {
      this.fileBytes.down += r.length;
      this.opts.audit.dataReply(r.id, r.length);
    }
    else this.opts.audit.statusReply(r.id, r.type === FXP.STATUS ? r.code : undefined);
  }

  end(): void {
    this.opts.audit.end();
  }
}

function unknownName(req: SftpRequest): string {
  if (req.type === FXP.EXTENDED) return req.name.slice(0, 64);
  return req.type === -1 ? `type ${req.rawType}` : `type ${req.type}`;
}

/** The paths a denied request named, for its audit line. */
function describe(req: SftpRequest): { path?: string; from?: string; to?: string } {
  if (req.type === FXP.RENAME) return { from: pathText(req.path), to: pathText(req.to) };
  if (req.type === FXP.EXTENDED) {
    const e = req.ext;
    if (e.kind === 'rename' || e.kind === 'hardlink') return { from: pathText(e.path), to: pathText(e.to) };
    if (e.kind === 'setstat' || e.kind === 'path') return { path: pathText(e.path) };
    return {};
  }
  return 'path' in req ? { path: pathText(req.path) } : {};
}
