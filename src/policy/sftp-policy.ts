// Decides each SFTP request by the user's permissions, with the rows of the request table
// (src/sftp/protocol/request-table.ts). The same decision is made by the proxy's filter, before
// anything reaches the upstream, and by the local server, before anything reaches the disk.
//
// "overwrite" cannot be decided from a request alone: whether `put` replaces a file depends on
// whether the file is there. Such a request comes back as a probe: the caller asks its file
// system (the upstream, with a request id of the proxy's own; or the local disk) whether the path
// exists, and is told what to do either way. The request then goes on changed so that it cannot
// replace a file created meanwhile either (OPEN gets EXCL; posix-rename becomes RENAME, which
// never replaces; an OPEN for writing without CREAT, which can only open a file that exists, is
// answered NO_SUCH_FILE by us instead of being sent), so the answer holds however the race turns out.
import { FXF, FXP } from '../sftp/protocol/constants.js';
import { ruleFor, type RequestRule } from '../sftp/protocol/request-table.js';
import type { AttrSet, SftpRequest } from '../sftp/protocol/requests.js';
import { mayWriteAnything, type Permission, type Permissions } from './permissions.js';

export type Verdict =
  | { kind: 'allow'; rule: RequestRule | undefined }
  | { kind: 'deny'; rule: RequestRule | undefined; /** What the user lacks, for the log. */ missing: string }
  /** Allowed if `path` does not exist, and then sent as `unlessExists` says. */
  | { kind: 'probe'; rule: RequestRule; path: Buffer; unlessExists: Rewrite };

/**
 * How a request goes on after a probe found nothing: changed so that it cannot replace a file.
 * 'as-is' is for allowed requests that need no change; 'answer-missing' answers NO_SUCH_FILE
 * without sending the request (sent, it could only have opened a file that appeared meanwhile).
 */
export type Rewrite =
  | { kind: 'add-excl'; pflagsAt: number; pflags: number }
  | { kind: 'posix-to-rename'; from: Buffer; to: Buffer }
  | { kind: 'answer-missing' }
  | { kind: 'as-is' };

export function decide(req: SftpRequest, permissions: Permissions): Verdict {
  const rule = ruleFor(req.type, 'name' in req ? req.name : undefined);
  const has = (p: Permission): boolean => permissions.has(p);
  const deny = (missing: string): Verdict => ({ kind: 'deny', rule, missing });
  const allow: Verdict = { kind: 'allow', rule };
  if (!rule) {
    // An extension the table does not know: fail closed for users who may not change anything.
    return mayWriteAnything(permissions) ? allow : deny('any write permission (unknown request)');
  }
  switch (rule.needs) {
    case null: return allow;
    case 'open': return req.type === FXP.OPEN ? decideOpen(req, rule, permissions) : allow;
    case 'setstat': {
      const missing = setstatLacks(attrsOf(req), has);
      return missing === undefined ? allow : deny(missing);
    }
    case 'rename': {
      if (!has('rename')) return deny('rename');
      if (req.type === FXP.EXTENDED && req.ext.kind === 'rename' && req.ext.replaces && !has('overwrite')) {
        return { kind: 'probe', rule, path: req.ext.to, unlessExists: { kind: 'posix-to-rename', from: req.ext.path, to: req.ext.to } };
      }
      return allow;
    }
    default: return has(rule.needs) ? allow : deny(rule.needs);
  }
}

function decideOpen(req: Extract<SftpRequest, { type: typeof FXP.OPEN }>, rule: RequestRule, permissions: Permissions): Verdict {
  const f = req.pflags;
  const writes = (f & (FXF.WRITE | FXF.APPEND | FXF.CREAT | FXF.TRUNC)) !== 0;
  if ((f & FXF.READ) !== 0 && !permissions.has('download')) return { kind: 'deny', rule, missing: 'download' };
  if (!writes) return { kind: 'allow', rule };
  if (!permissions.has('upload')) return { kind: 'deny', rule, missing: 'upload' };
  // CREAT|EXCL makes only a new file. EXCL alone does not: without CREAT it is ignored (open(2))
  // and TRUNC or APPEND act on the file that is there.
  if (permissions.has('overwrite') || (f & (FXF.CREAT | FXF.EXCL)) === (FXF.CREAT | FXF.EXCL)) return { kind: 'allow', rule };
  // A new file only. With CREAT, EXCL makes the open fail if one appeared since the probe.
  const unlessExists: Rewrite = (f & FXF.CREAT) !== 0 ? { kind: 'add-excl', pflagsAt: req.pflagsAt, pflags: f | FXF.EXCL } : { kind: 'answer-missing' };
  return { kind: 'probe', rule, path: req.path, unlessExists };
}

function attrsOf(req: SftpRequest): AttrSet | undefined {
  if (req.type === FXP.SETSTAT || req.type === FXP.FSETSTAT) return req.attrs;
  if (req.type === FXP.EXTENDED && req.ext.kind === 'setstat') return req.ext.attrs;
  return undefined;
}

/** What a SETSTAT-like request lacks (for the log), or undefined: allowed. */
function setstatLacks(a: AttrSet | undefined, has: (p: Permission) => boolean): string | undefined {
  if (!a) return has('chmod') ? undefined : 'chmod';
  if ((a.permissions || a.ownership) && !has('chmod')) return 'chmod';
  // Setting the size truncates or extends a file that exists: an overwrite.
  if (a.size && !has('upload')) return 'upload';
  if (a.size && !has('overwrite')) return 'overwrite';
  // Times alone: what clients send after an upload to keep the file's date.
  return has('chmod') || has('upload') ? undefined : 'chmod or upload';
}
