// The running server's bans through its admin endpoint: GET /bans, DELETE /bans/<key>. Its answer
// is checked like any input (shape, size), and a server that is not there is one line.
import type { HostPort } from '../config/option-kinds.js';
import type { BanRecord } from '../ops/shared-state.js';
import { StoreError } from './admin-error.js';
import type { BanSource } from './ban-source.js';

const TIMEOUT_MS = 5000;
/** Far more than any real list (a ban is ~80 bytes of JSON). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** A wildcard listen address is reached on loopback. */
function reachable(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export function endpointBans(admin: HostPort): BanSource {
  const base = `http://${reachable(admin.host)}:${admin.port}`;
  const where = `the admin endpoint ${base}`;
  const request = async (method: string, path: string): Promise<{ status: number; body: string }> => {
    let res: Response;
    try {
      res = await fetch(base + path, { method, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new StoreError(`cannot reach ${where} (${cause}): is the server running with --admin-listen ${admin.host}:${admin.port}?`);
    }
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_ANSWER_BYTES) throw new StoreError(`${where} answered ${length} bytes for ${path}`);
    return { status: res.status, body: await res.text() };
  };
  return {
    where,
    async list() {
      const r = await request('GET', '/bans');
      if (r.status !== 200) throw new StoreError(`${where} answered ${r.status} for GET /bans: ${r.body.trim().slice(0, 200)}`);
      return parseBans(r.body, where);
    },
    async lift(key) {
      const r = await request('DELETE', `/bans/${encodeURIComponent(key)}`);
      if (r.status === 200) return true;
      if (r.status === 404) return false;
      throw new StoreError(`${where} answered ${r.status} for DELETE /bans/${key}: ${r.body.trim().slice(0, 200)}`);
    },
    async close() {},
  };
}

function parseBans(body: string, where: string): BanRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw new StoreError(`${where}: GET /bans is not JSON`);
  }
  if (!Array.isArray(data)) throw new StoreError(`${where}: GET /bans is not a list`);
  return data.map((b: unknown, i) => {
    const r = b as Partial<BanRecord> | null;
    if (typeof r?.ip !== 'string' || ![r.since, r.until, r.score].every((n) => typeof n === 'number')) {
      throw new StoreError(`${where}: GET /bans item ${i} is not a ban record`);
    }
    return { ip: r.ip, since: r.since!, until: r.until!, score: r.score! };
  });
}
