// The front door: a TCP listener feeding ssh2's server. It admits public-key logins the user store
// approves, then hands each `sftp` subsystem channel to the backend. Nothing else is served.
import net from 'node:net';
import ssh2, { type Connection, type PublicKeyAuthContext } from 'ssh2';
import type { Logger } from 'pino';
import { fingerprint } from '../keys/fingerprint.js';
import type { HostKey } from '../keys/host-key.js';
import { StoreUnavailableError, type AuthDecision, type AuthorizedUser, type UserStore } from '../auth/user-store.js';
import type { Backend, BackendConnection, SftpChannel } from './backend.js';
import { algorithmProblem, signatureProblem } from './verify-signature.js';

export interface SshServerOptions {
  hostKey: HostKey;
  store: UserStore;
  backend: Backend;
  log: Logger;
  /** Seconds a connection may stay unauthenticated. */
  loginGraceTime: number;
  /** Ciphers offered, in order; unset: ssh2's defaults. */
  ciphers?: string[];
}

/** Session channels one connection may have open at once (OpenSSH's MaxSessions default). */
const MAX_SESSIONS = 10;

interface AcceptedSocket {
  socket: net.Socket;
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

  constructor(private readonly opts: SshServerOptions) {
    const algorithms = opts.ciphers ? { cipher: opts.ciphers as ssh2.CipherAlgorithm[] } : undefined;
    this.ssh = new ssh2.Server({ hostKeys: [opts.hostKey.pem], ident: 'pysftpproxy', algorithms }, (client, info) =>
      this.onClient(client, `${info.ip}:${info.port}`));
    // Our own listener: Nagle off from the first byte (+60-80 % throughput measured), and one
    // place to add the PROXY protocol or connection limits later.
    this.tcp = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onSocket(socket));
  }

  /**
   * Every TCP connection is logged and timed from accept: ssh2 calls `onClient` only once the client
   * has sent its identification line, so a silent socket or one speaking another protocol would
   * otherwise be held without a timer and leave no trace in the log.
   */
  private onSocket(socket: net.Socket): void {
    const remote = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    const log = this.opts.log.child({ remote });
    log.info('connection');
    const conn: AcceptedSocket = {
      socket,
      started: Date.now(),
      log,
      grace: setTimeout(() => {
        conn.log.info({ seconds: this.opts.loginGraceTime }, 'login grace time exceeded: connection closed');
        socket.destroy();
      }, this.opts.loginGraceTime * 1000),
    };
    conn.grace.unref();
    this.accepted.set(remote, conn);
    socket.once('close', () => {
      clearTimeout(conn.grace);
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
    await closed;
  }

  private onClient(client: Connection, remote: string): void {
    const conn = this.accepted.get(remote);
    if (!conn) return void client.end(); // its socket is gone already
    this.accepted.delete(remote);
    const { started, grace } = conn;
    let log = conn.log;
    this.clients.add(client);
    let user: AuthorizedUser | undefined;
    let backend: BackendConnection | undefined;

    // One store lookup per (user, key) and connection: the key query and the signed request share it.
    const decisions = new Map<string, Promise<AuthDecision>>();
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') {
        if (ctx.method !== 'none') log.info({ user: ctx.username, method: ctx.method }, 'login refused: only publickey is allowed');
        return ctx.reject(['publickey']);
      }
      void this.onPublicKey(ctx, decisions, log, (accepted) => { user = accepted; });
    });

    client.on('ready', () => {
      clearTimeout(grace);
      if (!user) return client.end();
      log = log.child({ user: user.name });
      backend = this.opts.backend.connect({ user, remote, log });
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
            log.info({ subsystem: info.name }, 'subsystem refused: only sftp is served');
            return rejectSub();
          }
          // Accepted synchronously: clients send SFTP INIT right behind the request, and the channel
          // must exist to buffer it until the backend is ready. ssh2 gives no channel for a second
          // subsystem request on the same session, or one on a session already closing.
          const channel = acceptSub() as unknown as SftpChannel | undefined;
          if (!channel) return void log.info('subsystem request on a session that has one or is closing: ignored');
          backend!.openSftp(channel);
        });
        for (const kind of ['pty', 'shell', 'exec', 'x11', 'auth-agent'] as const) {
          session.on(kind, (_accept: unknown, reject: (() => void) | undefined) => {
            log.info({ request: kind }, 'request refused: only sftp is served');
            reject?.();
          });
        }
      });
      client.on('tcpip', (_accept, reject) => reject());
      client.on('request', (_accept, reject) => reject?.());
    });

    client.on('error', (err) => log.debug({ err: err.message }, 'client connection error'));
    client.on('close', () => {
      clearTimeout(grace);
      this.clients.delete(client);
      if (!backend) return void log.info({ durationMs: Date.now() - started }, 'connection closed before login');
      backend.close();
      const { bytesUp, bytesDown } = backend.counters;
      log.info({ bytesUp, bytesDown, durationMs: Date.now() - started }, 'session end');
    });
  }

  /** Calls `onAccepted` (before accepting: ssh2 may emit 'ready' inside accept()) when the user is in. */
  private async onPublicKey(ctx: PublicKeyAuthContext, decisions: Map<string, Promise<AuthDecision>>, log: Logger,
      onAccepted: (user: AuthorizedUser) => void): Promise<void> {
    const key = fingerprint(ctx.key.data);
    const refuse = (reason: string): void => {
      log.info({ user: ctx.username, key, reason }, 'login refused');
      ctx.reject(['publickey']);
    };
    const problem = ctx.signature ? signatureProblem(ctx) : algorithmProblem(ctx);
    if (problem) return refuse(problem);
    const cacheKey = `${ctx.username}\0${ctx.key.data.toString('base64')}`;
    let pending = decisions.get(cacheKey);
    if (!pending) {
      pending = this.opts.store.authorize(ctx.username, { algo: ctx.key.algo, data: ctx.key.data });
      decisions.set(cacheKey, pending);
      pending.catch(() => decisions.delete(cacheKey));
    }
    let decision: AuthDecision;
    try {
      decision = await pending;
    } catch (err) {
      const why = err instanceof StoreUnavailableError ? err.message : `store error: ${(err as Error).message}`;
      return refuse(`user store unavailable (${why})`);
    }
    if (!decision.ok) return refuse(decision.reason);
    const unservable = this.opts.backend.refusal(decision.user);
    if (unservable) return refuse(unservable);
    if (!ctx.signature) {
      ctx.accept(); // "this key would do": the client now signs with it
      return;
    }
    const u = decision.user;
    log.info({ user: u.name, key, upstream: u.route ? `${u.route.user}@${u.route.host}:${u.route.port}` : undefined,
      folder: u.folder }, 'login accepted');
    onAccepted(u);
    ctx.accept();
  }
}
