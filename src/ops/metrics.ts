// Every metric the server exports, in one place (prom-client). Under --workers each worker's
// registry is what prom-client's AggregatorRegistry asks for, so the primary's scrape sums the
// whole server. Label values come from small fixed sets, never from client input, so the number
// of series is bounded.
import cluster from 'node:cluster';
import client from 'prom-client';

/** Why a connection was closed at accept, before any SSH work. */
export type AcceptRefusal = 'max-startups' | 'max-connections-per-ip' | 'max-connections' | 'banned' | 'proxy-header' | 'draining';

/** Why we closed a connection or session after accepting it. */
export type CloseReason = 'login-grace-time' | 'max-auth-tries' | 'evicted' | 'idle-timeout' | 'drain-timeout' | 'revoked' | 'flow-control';

/** The fixed reasons of pysftpproxy_logins_total{result="refused"}. */
export type LoginRefusal =
  | 'unknown-user' | 'unknown-key' | 'wrong-key' | 'inactive' | 'bad-data'
  | 'bad-signature' | 'key-type' | 'bad-name' | 'method' | 'store-unavailable' | 'not-servable' | 'max-sessions-per-user' | 'internal';

export type UpstreamCause = 'unreachable' | 'timeout' | 'handshake' | 'auth' | 'hostkey' | 'key' | 'subsystem' | 'lost';

/** Byte counts of something live (a connection), read at scrape time. */
export interface ByteSource {
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly connections = this.counter({ name: 'pysftpproxy_connections_total', help: 'TCP connections accepted' });
  private readonly refused = this.counter({
    name: 'pysftpproxy_connections_refused_total', help: 'connections closed at accept, by reason', labelNames: ['reason'] as const,
  });
  private readonly closed = this.counter({
    name: 'pysftpproxy_connections_closed_total', help: 'connections and sessions closed by a limit, by reason', labelNames: ['reason'] as const,
  });
  private readonly logins = this.counter({
    name: 'pysftpproxy_logins_total', help: 'authentication attempts: accepted logins and refused attempts (key offers included), by reason',
    labelNames: ['result', 'reason'] as const,
  });
  private readonly sessions = this.gauge({ name: 'pysftpproxy_sessions_active', help: 'SFTP sessions open' });
  private readonly authenticated = this.gauge({ name: 'pysftpproxy_connections_active', help: 'connections open, by state', labelNames: ['state'] as const });
  private readonly upstreamConnect = this.histogram({
    name: 'pysftpproxy_upstream_connect_seconds', help: 'time to connect and log in upstream',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  private readonly upstreamFailures = this.counter({
    name: 'pysftpproxy_upstream_failures_total', help: 'upstream connections that failed, by cause', labelNames: ['cause'] as const,
  });
  private readonly storeUp = this.gauge({
    name: 'pysftpproxy_store_up', help: '1 while the user store answers, 0 while it does not', aggregator: 'min',
  });
  private readonly bans = this.counter({ name: 'pysftpproxy_bans_total', help: 'addresses banned by the brute-force defender' });
  private readonly bugs = this.counter({ name: 'pysftpproxy_bugs_total', help: 'errors no handler caught (each also logged as "bug: ...")' });
  private readonly ready = this.gauge({ name: 'pysftpproxy_ready', help: '1 while the process accepts logins (see /readyz)', aggregator: 'min' });

  /** Bytes of connections that ended, plus the live ones, counted at scrape time (no per-chunk cost). */
  private endedUp = 0;
  private endedDown = 0;
  private readonly live = new Set<ByteSource>();

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
    // prom-client also exports these three totals as gauges named *_total, which promtool (and
    // Prometheus' naming rules) refuse for a non-counter; sum() over the per-type gauges gives them.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    if (cluster.isWorker) {
      // A worker answers the primary's scrape requests only once an AggregatorRegistry exists in
      // it (prom-client adds its IPC listener in the constructor); it then serves our registry.
      new client.AggregatorRegistry();
      client.AggregatorRegistry.setRegistries([this.registry]);
    }
    const metrics = this;
    let reportedUp = 0;
    let reportedDown = 0;
    this.counter({
      name: 'pysftpproxy_transfer_bytes_total',
      help: 'SFTP bytes moved: up = client to server, down = server to client (local mode: file bytes; proxy mode: channel bytes)',
      labelNames: ['direction'] as const,
      collect() {
        let up = metrics.endedUp;
        let down = metrics.endedDown;
        for (const s of metrics.live) { up += s.bytesUp; down += s.bytesDown; }
        if (up > reportedUp) this.inc({ direction: 'up' }, up - reportedUp);
        if (down > reportedDown) this.inc({ direction: 'down' }, down - reportedDown);
        reportedUp = Math.max(up, reportedUp);
        reportedDown = Math.max(down, reportedDown);
      },
    });
    this.storeUp.set(1);
    this.ready.set(0);
    // Series that exist from the start, so alerts on rate() see them before the first event.
    this.logins.inc({ result: 'accepted', reason: 'ok' }, 0);
    this.authenticated.set({ state: 'startup' }, 0);
    this.authenticated.set({ state: 'authenticated' }, 0);
  }

  private counter<L extends string>(c: client.CounterConfiguration<L>): client.Counter<L> {
    return new client.Counter({ ...c, registers: [this.registry] });
  }

  private gauge<L extends string>(c: client.GaugeConfiguration<L>): client.Gauge<L> {
    return new client.Gauge({ ...c, registers: [this.registry] });
  }

  private histogram<L extends string>(c: client.HistogramConfiguration<L>): client.Histogram<L> {
    return new client.Histogram({ ...c, registers: [this.registry] });
  }

  connection(): void { this.connections.inc(); }
  refusedAtAccept(reason: AcceptRefusal): void { this.refused.inc({ reason }); }
  closedBy(reason: CloseReason): void { this.closed.inc({ reason }); }
  loginAccepted(): void { this.logins.inc({ result: 'accepted', reason: 'ok' }); }
  loginRefused(reason: LoginRefusal): void { this.logins.inc({ result: 'refused', reason }); }
  sessionOpened(): void { this.sessions.inc(); }
  sessionClosed(): void { this.sessions.dec(); }
  connectionState(state: 'startup' | 'authenticated', delta: 1 | -1): void { this.authenticated.inc({ state }, delta); }
  upstreamConnected(seconds: number): void { this.upstreamConnect.observe(seconds); }
  upstreamFailed(cause: UpstreamCause): void { this.upstreamFailures.inc({ cause }); }
  setStoreUp(up: boolean): void { this.storeUp.set(up ? 1 : 0); }
  setReady(ready: boolean): void { this.ready.set(ready ? 1 : 0); }
  banned(): void { this.bans.inc(); }
  bug(): void { this.bugs.inc(); }

  /** Count this connection's bytes from now until `ended`. */
  track(source: ByteSource): { ended(): void } {
    this.live.add(source);
    return {
      ended: () => {
        if (!this.live.delete(source)) return;
        this.endedUp += source.bytesUp;
        this.endedDown += source.bytesDown;
      },
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
