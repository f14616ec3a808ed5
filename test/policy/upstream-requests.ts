/**
 * What an upstream's sftp-server carried out, read from its `-l DEBUG3` log (see targets.ts): each
 * request it processed logs `request N: NAME ...` first. The policy tests use it to show that a
 * denied request never reached the upstream.
 */
import type { PolicyUser } from './targets.js';

export interface UpstreamRequest {
  id: number;
  /** `open`, `remove`, `posix-rename`... as sftp-server names them (`unknown-extension` for one it does not know). */
  name: string;
  /** The rest of the line (for OPEN: `flags N`). */
  rest: string;
}

/** The requests the user's upstream processed, from byte `since` of its log on. */
export async function upstreamRequests(u: PolicyUser, since = 0): Promise<UpstreamRequest[]> {
  if (!u.requests) throw new Error(`${u.name} has no upstream`);
  const text = (await u.requests()).slice(since);
  const out: UpstreamRequest[] = [];
  // Each handler logs its request once; `request N: sent ...` lines are the replies (clients such
  // as psftp reuse an id once it was answered, so ids do not tell requests apart).
  for (const m of text.matchAll(/^debug\d: request (\d+): (\S+)(.*)$|^Unknown extended request "(.*)"$/gm)) {
    if (m[4] !== undefined) {
      // An extension sftp-server does not know logs no request line, only this.
      out.push({ id: -1, name: 'unknown-extension', rest: m[4] });
      continue;
    }
    if (m[2] === 'sent') continue;
    out.push({ id: Number(m[1]), name: m[2]!, rest: m[3]!.trim() });
  }
  return out;
}

/** Where the user's upstream log ends now (pass to upstreamRequests as `since`). */
export async function upstreamMark(u: PolicyUser): Promise<number> {
  return u.requests ? (await u.requests()).length : 0;
}

/** Requests among `reqs` that change files: anything but reads, listings and metadata queries. */
export function writesAmong(reqs: UpstreamRequest[]): UpstreamRequest[] {
  const readOnly = new Set(['limits', 'realpath', 'stat', 'lstat', 'fstat', 'read', 'close', 'opendir', 'readdir', 'readlink', 'statvfs', 'fstatvfs', 'expand,', 'home-directory']);
  return reqs.filter((r) => {
    // OPEN with none of WRITE, APPEND, CREAT, TRUNC (EXCL alone changes nothing).
    if (r.name === 'open') return (Number(/^flags (\d+)$/.exec(r.rest)?.[1] ?? -1) & 0x1e) !== 0 || !/^flags \d+$/.test(r.rest);
    return !readOnly.has(r.name);
  });
}
