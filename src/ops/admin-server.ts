// --admin-listen: the operator's HTTP endpoint. Off by default; meant for loopback or a private
// network (it has no authentication of its own, like most /metrics endpoints).
//   GET /metrics   Prometheus text format (under --workers: every worker summed, from the primary)
//   GET /healthz   200 while the process serves
//   GET /readyz    200 when listening and the user store answers; 503 with the reason otherwise
//                  (Redis down, draining, not listening yet)
//   GET /bans, DELETE /bans/<address or IPv6 /64>   the defender's bans (what `pysftpproxy bans` uses when
//                  they live in the server's memory)
import http from 'node:http';
import type { Logger } from 'pino';
import { parseBanTarget } from './ban-key.js';
import type { BanStore } from './shared-state.js';

export interface AdminSources {
  metrics(): Promise<{ contentType: string; text: string }>;
  /** undefined: ready; else why not. */
  notReady(): string | undefined;
  /** undefined: healthy; else why not. */
  unhealthy(): string | undefined;
  bans: BanStore | undefined;
}

export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly sources: AdminSources, private readonly log: Logger) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message, path: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    });
    // Requests are tiny; a slow or silent client must not hold a socket for long.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 5_000;
    this.server.maxHeadersCount = 50;
  }

  listen(host: string, port: number): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { address: string; port: number };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/metrics') {
      const m = await this.sources.metrics();
      return send(res, 200, m.text, m.contentType);
    }
    if (req.method === 'GET' && path === '/healthz') {
      const why = this.sources.unhealthy();
      return send(res, why ? 503 : 200, `${why ?? 'ok'}\n`);
    }
    if (req.method === 'GET' && path === '/readyz') {
      const why = this.sources.notReady();
      return send(res, why ? 503 : 200, `${why ?? 'ready'}\n`);
    }
    const bans = this.sources.bans;
    if (path === '/bans' && req.method === 'GET') {
      if (!bans) return send(res, 404, 'the defender is off\n');
      return send(res, 200, JSON.stringify(await bans.list()) + '\n', 'application/json');
    }
    if (path.startsWith('/bans/') && req.method === 'DELETE') {
      if (!bans) return send(res, 404, 'the defender is off\n');
      let target: string | undefined;
      try {
        target = parseBanTarget(decodeURIComponent(path.slice('/bans/'.length)));
      } catch {
        target = undefined; // a malformed %-escape
      }
      if (!target) return send(res, 400, 'not an IP address (nor an IPv6 /64)\n');
      const ip = target; // an IPv6 client's ban is its /64's, whichever of its addresses was named
      const lifted = await bans.lift(ip);
      if (lifted) this.log.info({ ip }, 'ban lifted (admin endpoint)');
      return send(res, lifted ? 200 : 404, lifted ? 'lifted\n' : 'not banned\n');
    }
    send(res, 404, 'not found: try /metrics, /healthz, /readyz\n');
  }
}

function send(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}
