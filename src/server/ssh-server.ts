// The front door: a TCP listener feeding ssh2's server. It admits public-key logins the user store
// approves, then hands each `sftp` subsystem channel to the backend. Nothing else is served.
import net from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import type { Logger } from 'pino';
import type { HostKey } from '../keys/host-key.js';
import type { UserStore } from '../auth/user-store.js';
import { clientText } from '../log/client-text.js';
import { ThrottledLog } from '../log/throttled-log.js';
import { Admission, type AdmissionLimits, type Ticket } from './admission.js';
import type { Backend, BackendConnection, SftpChannel } from './backend.js';
import { PublicKeyAuth } from './public-key-auth.js';

/** What may change while running (SIGHUP). */
export interface ServerLimits extends AdmissionLimits {
  /** Seconds a connection may stay unauthenticated. */
  loginGraceTime: number;
  maxAuthTries: number;
}

export interface SshServerOptions {
  hostKey: HostKey;
  store: UserStore;
  backend: Backend;
  log: Logger;
  limits: ServerLimits;
  /** Ciphers and key exchanges offered, in order. */
  ciphers: string[];
  kex: string[];
}

/** Session channels one connection may have open at once (OpenSSH's MaxSessions default). */
const MAX_SESSIONS = 10;

interface AcceptedSocket {
  socket: net.Socket;
  ticket: Ticket;
  started: number;
  log: Logger;
  /** Ends the connection unless it authenticates within the login grace time. */
  grace: NodeJS.Timeout;
}

export class SshServer {
  private readonly ssh: ssh2.Server;
  private readonly tcp: net.Server;
  private readonly clients = new Set<Connection>();
  /** Sockets accepted whose SSH identification ssh2 has not read yet, by remote address:port. */
  private readonly accepted = new Map<string, AcceptedSocket>();
  private readonly admission: Admission;
  private readonly refusals: ThrottledLog;
  private limits: ServerLimits;

  constructor(private readonly opts: SshServerOptions) {
    this.limits = opts.limits;
    this.admission = new Admission(opts.limits);
    this.refusals = new ThrottledLog(opts.log);
    const algorithms = { cipher: opts.ciphers as ssh2.CipherAlgorithm[], kex: opts.kex as ssh2.KexAlgorithm[] };
    this.ssh = new ssh2.Server({ hostKeys: [opts.hostKey.pem], ident: 'pysftpproxy', algorithms }, (client, info) =>
      this.onClient(client, `${info.ip}:${info.port}`));
    // Our own listener: Nagle off from the first byte (+60-80 % throughput measured), and the
    // place where connections are admitted or refused before any SSH work.
    this.tcp = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onSocket(socket));
  }

  setLimits(limits: ServerLimits): void {
    this.limits = limits;
    this.admission.setLimits(limits);
  }

  /**
   * Every TCP connection is admitted (or refused) and timed from accept: ssh2 calls `onClient`
   * only once the client has sent its identification line, so a silent socket or one speaking
   * another protocol would otherwise be held without a timer and leave no trace in the log.
   */
  private onSocket(socket: net.Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    const remote = `${ip}:${socket.remotePort ?? 0}`;
    socket.on('error', () => {}); // a reset before ssh2 takes the socket must not be unhandled
    const admitted = this.admission.admit(ip, () => socket.destroy());
    if (!admitted.ok) {
      this.refusals.info(`${admitted.reason}:${ip}`, { remote, limit: admitted.limit, reason: admitted.reason },
        `connection refused: ${admitted.reason} reached`);
      socket.destroy();
      return;
    }
    if (admitted.evicted) {
      this.refusals.info(`evicted:${admitted.evicted.ip}`, { ip: admitted.evicted.ip, limit: this.limits.maxStartups, reason: 'max-startups' },
        'connection closed before login to make room: its address holds the most unauthenticated connections');
      admitted.evicted.close();
    }
    const log = this.opts.log.child({ remote });
    log.info('connection');
    const conn: AcceptedSocket = {
      socket,
      ticket: admitted.ticket,
      started: Date.now(),
      log,
      grace: setTimeout(() => {
        conn.log.info({ seconds: this.limits.loginGraceTime }, 'login grace time exceeded: connection closed');
        socket.destroy();
      }, this.limits.loginGraceTime * 1000),
    };
    conn.grace.unref();
    this.accepted.set(remote, conn);
    socket.once('close', () => {
      clearTimeout(conn.grace);
      conn.ticket.release();
      if (this.accepted.get(remote) !== conn) return; // ssh2 took it over and logs its end
      this.accepted.delete(remote);
      log.info({ durationMs: Date.now() - conn.started, bytesRead: socket.bytesRead },
        'connection closed before SSH identification (not an SSH client?)');
    });
    this.ssh.injectSocket(socket);
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(port, host, () => {
        this.tcp.off('error', reject);
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  /** Stop accepting, end every client connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.tcp.close(() => r()));
    for (const c of this.clients) c.end();
    for (const { socket } of this.accepted.values()) socket.destroy();
    this.refusals.close();
    await closed;
  }

  private onClient(client: Connection, remote: string): void {
    const conn = this.accepted.get(remote);
    if (!conn) return void client.end(); // its socket is gone already
    this.accepted.delete(remote);
    const { started, grace, ticket } = conn;
    let log = conn.log;
    this.clients.add(client);
    let open = true;
    let backend: BackendConnection | undefined;

    const auth = new PublicKeyAuth({
      store: this.opts.store,
      backend: this.opts.backend,
      log,
      maxAuthTries: () => this.limits.maxAuthTries,
      isOpen: () => open,
      onTooManyFailures: (failures) => {
        log.info({ failures, max: this.limits.maxAuthTries }, 'too many authentication failures: connection closed');
        client.end();
      },
    });
    client.on('authentication', (ctx) => auth.handle(ctx));

    client.on('ready', () => {
      clearTimeout(grace);
      const user = auth.outcome.user;
      // ssh2 can emit 'ready' after the client already left (its close raced the store's answer):
      // nothing may be dialed or opened for a client that is gone.
      if (!open || !user) return void client.end();
      ticket.authenticated();
      log = log.child({ user: user.name });
      backend = this.opts.backend.connect({ user, remote, log });
      this.serveSessions(client, backend, log);
    });

    client.on('error', (err) => log.debug({ err: err.message }, 'client connection error'));
    client.on('close', () => {
      open = false;
      clearTimeout(grace);
      this.clients.delete(client);
      ticket.release();
      if (!backend) return void log.info({ durationMs: Date.now() - started }, 'connection closed before login');
      backend.close();
      const { bytesUp, bytesDown } = backend.counters;
      log.info({ bytesUp, bytesDown, durationMs: Date.now() - started }, 'session end');
    });
  }

  private serveSessions(client: Connection, backend: BackendConnection, log: Logger): void {
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
