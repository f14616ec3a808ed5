// The front door: a TCP listener feeding ssh2's server. Connections pass the accept gate (client
// address, bans, limits), then authenticate (publickey only), then each `sftp` subsystem channel
// goes to the backend. Nothing else is served. It also drains (stop accepting, let sessions end)
// and takes new settings and a new host key while running.
import net from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import type { Logger } from 'pino';
import type { HostKey } from '../keys/host-key.js';
import type { UserStore } from '../auth/user-store.js';
import { clientText } from '../log/client-text.js';
import type { Defender } from '../ops/defender.js';
import type { Metrics } from '../ops/metrics.js';
import type { CounterStore } from '../ops/shared-state.js';
import { AcceptGate, formatRemote, type Admitted, type GateLimits } from './accept-gate.js';
import type { Backend, BackendConnection, SftpChannel } from './backend.js';
import { LiveLogins, type LiveLogin } from './live-logins.js';
import { IdleWatch, type IdleEntry } from './idle-watch.js';
import type { AuditSink } from '../audit/audit-event.js';
import { SessionAudit } from '../audit/session-audit.js';
import { PolicyInspector } from '../policy/sftp-inspector.js';
import { PublicKeyAuth, type AuthSettings } from './public-key-auth.js';

/** What may change while running (SIGHUP). */
export interface ServerSettings extends GateLimits, AuthSettings {
  /** Seconds a connection may stay unauthenticated. */
  loginGraceTime: number;
  /** Seconds without SFTP traffic before a session is closed; 0: never. */
  idleTimeout: number;
}

export interface SshServerOptions {
  /** Whether SFTP sessions are inspected (policy, audit); off only for a blind proxy (--sftp-filter off). */
  inspect: boolean;
  audit: AuditSink;
  hostKey: HostKey;
  store: UserStore;
  backend: Backend;
  log: Logger;
  metrics: Metrics;
  counters: CounterStore;
  defender: Defender | undefined;
  settings: ServerSettings;
  /** Ciphers and key exchanges offered, in order. */
  ciphers: string[];
  kex: string[];
}

/** Session channels one connection may have open at once (OpenSSH's MaxSessions default). */
const MAX_SESSIONS = 10;


/**
 * A client answers our CHANNEL_CLOSE at once; one that does not (ssh2's own SFTP client never
 * does) would keep the channel, and what serves it, open for ever: its connection is closed.
 */
const CLOSE_ACK_MS = 2000;

/**
 * Ending a connection sends our goodbye and FIN, but the socket is only gone once the peer
 * closes its side too; one that never does would hold it (and a drain) for ever. Destroyed after this.
 */
const HANG_UP_MS = 2000;

interface AcceptedSocket {
  socket: net.Socket;
  admitted: Admitted;
  started: number;
  log: Logger;
  /** Ends the connection unless it authenticates within the login grace time. */
  grace: NodeJS.Timeout;
}

export class SshServer {
  /** Serves new connections; on a host key change a new one takes over, old connections stay on theirs. */
  private ssh: ssh2.Server;
  private readonly tcp: net.Server;
  private readonly clients = new Map<Connection, { log: Logger; socket: net.Socket }>();
  /** Sockets accepted whose SSH identification ssh2 has not read yet, by socket address:port. */
  private readonly accepted = new Map<string, AcceptedSocket>();
  private readonly gate: AcceptGate;
  private readonly idle: IdleWatch;
  /** Every socket from accept to close (a drain closes those not logged in, whatever step they are at). */
  private readonly sockets = new Set<net.Socket>();
  private settings: ServerSettings;
  private hostKey: HostKey;
  private listening = false;
  /** Logged-in connections, for revocation. */
  private readonly live: LiveLogins;
  private draining = false;

  constructor(private readonly opts: SshServerOptions) {
    this.live = new LiveLogins(opts.store, opts.backend, () => this.settings.defaultPermissions);
    this.settings = opts.settings;
    this.hostKey = opts.hostKey;
    this.gate = new AcceptGate(opts.settings, opts.counters, opts.defender, opts.metrics, opts.log);
    this.idle = new IdleWatch(opts.settings.idleTimeout * 1000);
    this.ssh = this.newSshServer(opts.hostKey);
    // Our own listener: Nagle off from the first byte (+60-80 % throughput measured), and the
    // place where connections are admitted or refused before any SSH work.
    this.tcp = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onSocket(socket));
  }

  private newSshServer(hostKey: HostKey): ssh2.Server {
    const algorithms = { cipher: this.opts.ciphers as ssh2.CipherAlgorithm[], kex: this.opts.kex as ssh2.KexAlgorithm[] };
    const server = new ssh2.Server({ hostKeys: [hostKey.pem], ident: 'pysftpproxy', algorithms }, (client, info) =>
      this.onClient(client, `${info.ip}:${info.port}`));
    return server;
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** New settings for new connections and checks from now on; live sessions are not touched. */
  setSettings(settings: ServerSettings): void {
    this.settings = settings;
    this.gate.setLimits(settings);
    this.idle.setTimeout(settings.idleTimeout * 1000);
  }

  /** New connections see `key`; connections already open keep the key they were shown. True if it changed. */
  setHostKey(key: HostKey): boolean {
    if (key.fingerprint === this.hostKey.fingerprint) return false;
    this.hostKey = key;
    this.ssh = this.newSshServer(key);
    return true;
  }

  private onSocket(socket: net.Socket): void {
    socket.on('error', () => {}); // a reset before ssh2 takes the socket must not be unhandled
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.opts.metrics.connection();
    const started = Date.now();
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    // The grace time runs from accept: a silent socket, one stuck in a PROXY header or one that
    // never finishes the SSH handshake is closed when it ends.
    const grace = setTimeout(() => {
      const conn = this.accepted.get(key);
      this.opts.metrics.closedBy('login-grace-time');
      (conn?.log ?? this.opts.log.child({ remote: key })).info({ seconds: this.settings.loginGraceTime }, 'login grace time exceeded: connection closed');
      socket.destroy();
    }, this.settings.loginGraceTime * 1000);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
    this.gate.admit(socket).then((admitted) => {
      if (!admitted) return clearTimeout(grace);
      if (this.draining) { // the drain began while the gate decided
        admitted.release();
        return void socket.destroy();
      }
      this.opts.metrics.connectionState('startup', 1);
      const { client } = admitted;
      const log = this.opts.log.child({ remote: formatRemote(client), ...(client.via ? { via: client.via } : {}) });
      log.info('connection');
      const conn: AcceptedSocket = { socket, admitted, started, log, grace };
      this.accepted.set(key, conn);
      socket.once('close', () => {
        if (this.accepted.get(key) !== conn) return; // ssh2 took it over
        this.accepted.delete(key);
        this.endStartup(conn, undefined);
        log.info({ durationMs: Date.now() - started, bytesRead: socket.bytesRead }, 'connection closed before SSH identification (not an SSH client?)');
      });
      this.ssh.injectSocket(socket);
    }, (err: unknown) => {
      this.opts.metrics.bug();
      this.opts.log.error({ err }, 'bug: accepting a connection failed');
      socket.destroy();
    });
  }

  /** A connection that was a startup is gone or logged in; one that never logged in is scored. */
  private endStartup(conn: AcceptedSocket, auth: PublicKeyAuth | undefined, loggedIn = false): void {
    this.opts.metrics.connectionState('startup', -1);
    if (loggedIn) return;
    conn.admitted.release();
    void this.opts.defender?.failed(conn.admitted.client.ip, auth?.tally ?? { unknown: 0, refused: 0 });
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(port, host, () => {
        this.tcp.off('error', reject);
        this.listening = true;
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  /**
   * Stop accepting now (connections not logged in yet are closed too: a login during the drain
   * is refused), let logged-in connections go on for up to `timeoutMs`, then close the rest with a
   * log line each. Resolves when every connection is gone.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.gate.drain();
    this.listening = false;
    const closed = new Promise<void>((r) => this.tcp.close(() => r()));
    const loggedIn = new Set<net.Socket>();
    for (const [client, { log, socket }] of this.clients) {
      if ((client as Connection & { authenticated?: boolean }).authenticated) loggedIn.add(socket);
      else log.info('connection closed: the server is draining');
    }
    // Not logged in, at any step (PROXY header, the gate, SSH handshake, authentication): closed now.
    for (const socket of this.sockets) if (!loggedIn.has(socket)) socket.destroy();
    const deadline = Date.now() + timeoutMs;
    while (this.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const [client, { log }] of this.clients) {
      this.opts.metrics.closedBy('drain-timeout');
      log.info({ drainTimeoutSeconds: Math.round(timeoutMs / 1000) }, 'connection closed: drain timeout');
      this.hangUp(client);
    }
    // hangUp destroys what its peers do not close; the listener's close waits for every socket.
    await closed;
  }

  /** End `client`'s connection, and destroy its socket if the peer has not closed it soon after. */
  private hangUp(client: Connection): void {
    const socket = this.clients.get(client)?.socket;
    client.end();
    if (!socket || socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), HANG_UP_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** Close everything now. */
  async close(): Promise<void> {
    await this.drain(0);
    this.gate.close();
    this.idle.close();
  }

  private onClient(client: Connection, socketKey: string): void {
    const conn = this.accepted.get(socketKey);
    if (!conn) return void client.end(); // its socket is gone already
    this.accepted.delete(socketKey);
    const { started, grace, admitted } = conn;
    let log = conn.log;
    const remote = formatRemote(admitted.client);
    this.clients.set(client, { log, socket: conn.socket });
    let open = true;
    let loggedIn = false;
    let backend: BackendConnection | undefined;

    const auth = new PublicKeyAuth({
      store: this.opts.store,
      backend: this.opts.backend,
      log,
      metrics: this.opts.metrics,
      settings: () => this.settings,
      reserveSession: (user, limit) => this.opts.counters.acquire(`user:${user}`, limit),
      inspecting: this.opts.inspect,
      isOpen: () => open,
      onTooManyFailures: (failures) => {
        this.opts.metrics.closedBy('max-auth-tries');
        log.info({ failures, max: this.settings.maxAuthTries }, 'too many authentication failures: connection closed');
        this.hangUp(client);
      },
    });
    client.on('authentication', (ctx) => auth.handle(ctx));

    client.on('ready', () => {
      clearTimeout(grace);
      const user = auth.outcome.user;
      // ssh2 can emit 'ready' after the client already left (its close raced the store's answer):
      // nothing may be dialed or opened for a client that is gone.
      if (!open || !user) return void this.hangUp(client);
      loggedIn = true;
      admitted.ticket.authenticated();
      this.endStartup(conn, auth, true);
      this.opts.metrics.connectionState('authenticated', 1);
      log = log.child({ user: user.name });
      this.clients.set(client, { log, socket: conn.socket });
      // The user's policy as this connection holds it: a change in the store applies to its
      // next request, a revocation ends it (live-logins.ts).
      const sessionLog = log;
      const live: LiveLogin = {
        user, key: auth.outcome.key!, log: sessionLog,
        revoke: (reason) => {
          this.opts.metrics.closedBy('revoked');
          sessionLog.info({ reason }, 'session revoked');
          client.end();
        },
      };
      this.live.add(live);
      client.once('close', () => this.live.remove(live));
      const inspector = this.opts.inspect
        ? (o?: { home?: string }) => new PolicyInspector({
          permissions: () => live.user.policy.permissions,
          audit: new SessionAudit(this.opts.audit, { user: user.name, remote }, sessionLog),
          log: sessionLog,
          home: o?.home,
        })
        : undefined;
      backend = this.opts.backend.connect({ user, remote, log, inspector });
      this.serveSessions(client, backend, log);
    });

    client.on('error', (err: Error & { code?: string }) => {
      // Flow control ignored (our ssh2 patch ends the connection): abuse an operator should see;
      // other connection errors are resets and timeouts, routine at debug level.
      if (err.code === 'ERR_SSH_WINDOW_EXCEEDED') {
        this.opts.metrics.closedBy('flow-control');
        log.warn({ problem: err.message }, 'connection closed: the client ignored the channel window');
      } else log.debug({ err: err.message }, 'client connection error');
    });
    client.on('close', () => {
      open = false;
      clearTimeout(grace);
      this.clients.delete(client);
      auth.outcome.session?.release();
      if (!loggedIn) {
        this.endStartup(conn, auth);
        return void log.info({ durationMs: Date.now() - started }, 'connection closed before login');
      }
      admitted.release();
      this.opts.metrics.connectionState('authenticated', -1);
      if (!backend) return;
      backend.close();
      const { bytesUp, bytesDown } = backend.counters;
      log.info({ bytesUp, bytesDown, durationMs: Date.now() - started }, 'session end');
    });
  }

  private serveSessions(client: Connection, backend: BackendConnection, log: Logger): void {
    // Read through the backend each time: local mode's counters are a sum made at each read, so
    // the object it returns once would stay at zero.
    const bytes = this.opts.metrics.track({
      get bytesUp() { return backend.counters.bytesUp; },
      get bytesDown() { return backend.counters.bytesDown; },
    });
    client.once('close', () => bytes.ended());
    // A logged-in connection with no SFTP session open is unused: it is closed after the idle
    // timeout too, from its login or from the end of its last session.
    let sftpOpen = 0;
    const whenUnused = (): IdleEntry => this.idle.entry((idleMs) => {
      this.opts.metrics.closedBy('idle-timeout');
      log.info({ idleSeconds: Math.round(idleMs / 1000), idleTimeout: this.settings.idleTimeout }, 'connection closed: idle timeout, no session open');
      this.hangUp(client);
    });
    let unused: IdleEntry | undefined = whenUnused();
    client.once('close', () => unused?.stop());
    let sessions = 0;
    client.on('session', (accept, reject) => {
      if (sessions >= MAX_SESSIONS) {
        log.info({ max: MAX_SESSIONS }, 'session refused: too many open on this connection');
        return reject();
      }
      sessions++;
      const session = accept();
      session.once('close', () => sessions--);
      session.on('subsystem', (acceptSub, rejectSub, info) => {
        if (info.name !== 'sftp') {
          log.info({ subsystem: clientText(info.name) }, 'subsystem refused: only sftp is served');
          return rejectSub();
        }
        // Accepted synchronously: clients send SFTP INIT right behind the request, and the channel
        // must exist to buffer it until the backend is ready. ssh2 gives no channel for a second
        // subsystem request on the same session, or one on a session already closing.
        const channel = acceptSub() as unknown as SftpChannel | undefined;
        if (!channel) return void log.info('subsystem request on a session that has one or is closing: ignored');
        this.opts.metrics.sessionOpened();
        sftpOpen++;
        unused?.stop();
        unused = undefined;
        channel.once('close', () => {
          this.opts.metrics.sessionClosed();
          if (--sftpOpen === 0 && this.clients.has(client)) unused = whenUnused();
        });
        // Watched whatever the timeout is now: a SIGHUP may set one.
        this.idle.watch(channel, (idleMs) => {
          this.opts.metrics.closedBy('idle-timeout');
          log.info({ idleSeconds: Math.round(idleMs / 1000), idleTimeout: this.settings.idleTimeout }, 'session closed: idle timeout');
          channel.close();
          const ack = setTimeout(() => {
            log.info({ waitedMs: CLOSE_ACK_MS }, 'the client did not confirm the session close: connection closed');
            this.hangUp(client);
          }, CLOSE_ACK_MS);
          ack.unref();
          channel.once('close', () => clearTimeout(ack));
        });
        backend.openSftp(channel);
      });
      // Other session requests (env, signal, ...) have no listener: ssh2 refuses them itself.
      for (const kind of ['pty', 'shell', 'exec', 'x11', 'auth-agent'] as const) {
        session.on(kind, (_accept: unknown, reject: (() => void) | undefined) => {
          log.info({ request: kind }, 'request refused: only sftp is served');
          reject?.();
        });
      }
    });
    client.on('tcpip', (_accept, reject) => reject());
    client.on('request', (_accept, reject) => reject?.());
  }
}
