// Proxy mode's backend: each authenticated client gets one SSH connection to its route's upstream
// (dialed as soon as the login succeeds, so it is ready by the time the client asks for sftp);
// every sftp channel the client opens becomes an sftp channel upstream, piped byte for byte.
import ssh2, { type ClientChannel } from 'ssh2';
import type { Logger } from 'pino';
import type { Route, StoredUser } from '../auth/user-store.js';
import type { LoadedKey } from '../keys/read-private-key.js';
import type { UpstreamCause } from '../ops/metrics.js';
import { RouteKeyCache, RouteKeyError } from '../keys/route-key-cache.js';
import type { Backend, BackendConnection, ConnectionContext, SftpChannel, TransferCounters } from '../server/backend.js';
import type { HostKeyVerifier } from './host-key-verifier.js';
import { pipeChannels } from './pipe-channels.js';

export interface UpstreamBackendOptions {
  clientKey: LoadedKey;
  verifier: HostKeyVerifier;
  /** Seconds to connect and log in upstream. */
  connectTimeout: number;
  /** Told of each dial's outcome (the metrics). */
  observer?: UpstreamObserver;
}

/** What the metrics learn from the upstream legs: how long a dial took, why one failed. */
export interface UpstreamObserver {
  upstreamConnected(seconds: number): void;
  upstreamFailed(cause: UpstreamCause): void;
}

/** Why the upstream could not serve: `reason` for the log, `clientMessage` (no internals) for the user. */
class UpstreamFailure extends Error {
  constructor(readonly reason: string, readonly clientMessage: string, readonly kind: UpstreamCause) {
    super(reason);
  }
}

const UNAVAILABLE = 'pysftpproxy: your SFTP server is unavailable right now, please try again later';
const REFUSED = 'pysftpproxy: your SFTP server refused the proxy login; please contact the operator';
const UNVERIFIED = 'pysftpproxy: your SFTP server could not be verified; please contact the operator';

export class UpstreamBackend implements Backend {
  private readonly routeKeys = new RouteKeyCache();

  constructor(private readonly opts: UpstreamBackendOptions) {}

  refusal(user: StoredUser, keyBlob: Buffer): string | undefined {
    if (user.target.kind !== 'upstream') return 'the user has a folder, not a route: proxy mode serves routes';
    // A route leading back to this proxy would log in again with the proxy's own key, dialing
    // itself in a loop; no client ever needs the proxy's upstream keys.
    if (keyBlob.equals(this.opts.clientKey.publicBlob) || this.routeKeys.publicBlobs.has(keyBlob.toString('base64'))) {
      return 'the key is one the proxy logs in upstream with, refused as a client key (does a route point back at this proxy?)';
    }
    return undefined;
  }

  connect(ctx: ConnectionContext): BackendConnection {
    const target = ctx.user.target;
    if (target.kind !== 'upstream') throw new Error('upstream backend asked to serve a folder user (refusal() let it in)');
    return new UpstreamConnection(target.route, ctx, { ...this.opts, routeKeys: this.routeKeys });
  }

  async close(): Promise<void> {}
}

class UpstreamConnection implements BackendConnection {
  /** Bytes of the sessions that ended, and the counters of those still open. */
  private readonly ended: TransferCounters = { bytesUp: 0, bytesDown: 0 };
  private readonly live = new Set<TransferCounters>();
  private readonly log: Logger;
  private readonly ssh = new ssh2.Client();
  private readonly ready: Promise<void>;
  private readonly channels = new Set<SftpChannel>();
  private closed = false;
  private connected = false;
  private readonly upstream: string;

  constructor(private readonly route: Route, private readonly ctx: ConnectionContext,
      private readonly opts: UpstreamBackendOptions & { routeKeys: RouteKeyCache }) {
    this.log = ctx.log;
    this.upstream = `${route.user}@${route.host}:${route.port}`;
    this.ready = this.dial();
    this.ready.catch(() => {}); // observed by openSftp; a client that never opens sftp must not crash us
  }

  private async dial(): Promise<void> {
    const started = Date.now();
    let privateKey: Buffer;
    try {
      // Checked at each login, like the rest of the route: an edit applies to the next one.
      privateKey = this.route.keyPath ? (await this.opts.routeKeys.load(this.route.keyPath)).pem : this.opts.clientKey.pem;
    } catch (err) {
      const reason = err instanceof RouteKeyError ? err.message : String(err);
      this.log.error({ upstream: this.upstream, reason }, 'upstream failed');
      const failure = new UpstreamFailure(reason, REFUSED, 'key');
      this.opts.observer?.upstreamFailed('key');
      this.failAll(failure);
      throw failure;
    }
    if (this.closed) throw new UpstreamFailure('client left before the upstream was dialed', UNAVAILABLE, 'lost');
    return new Promise((resolve, reject) => {
      let hostKeyProblem: string | undefined;
      let failed = false;
      /** The upstream cannot serve: one log line with the cause, and every waiting channel told. */
      const giveUp = (failure: UpstreamFailure): void => {
        failed = true;
        this.opts.observer?.upstreamFailed(failure.kind);
        this.log.error({ upstream: this.upstream, reason: failure.reason }, 'upstream failed');
        reject(failure);
        this.failAll(failure);
      };
      this.ssh.on('ready', () => {
        this.connected = true;
        if (this.closed) { // the client left during the dial
          this.ssh.end();
          return reject(new UpstreamFailure('client left during the upstream dial', UNAVAILABLE, 'lost'));
        }
        this.log.info({ upstream: this.upstream, ms: Date.now() - started }, 'upstream connected');
        this.opts.observer?.upstreamConnected((Date.now() - started) / 1000);
        resolve();
      });
      this.ssh.on('error', (err: Error & { level?: string; code?: string }) => {
        if (this.closed) return;
        let failure: UpstreamFailure;
        if (hostKeyProblem) failure = new UpstreamFailure(hostKeyProblem, UNVERIFIED, 'hostkey');
        else if (err.level === 'client-authentication') failure = new UpstreamFailure('upstream refused the proxy\'s key', REFUSED, 'auth');
        else if (err.level === 'client-timeout') {
          failure = new UpstreamFailure(this.connected ? 'upstream stopped answering keepalives'
            : `no SSH handshake within ${this.opts.connectTimeout} s`, UNAVAILABLE, this.connected ? 'lost' : 'timeout');
        }
        // Our ssh2 patch ends a connection whose peer ignores flow control (it would make us buffer without bound).
        else if (err.code === 'ERR_SSH_WINDOW_EXCEEDED') failure = new UpstreamFailure('upstream ignored the channel window: connection closed', UNAVAILABLE, 'lost');
        else failure = new UpstreamFailure(`cannot connect: ${err.code ?? err.message}`, UNAVAILABLE, 'unreachable');
        giveUp(failure);
      });
      this.ssh.on('close', () => {
        if (this.closed) return;
        // Closed without an 'error' (e.g. right after its banner): the login still needs a cause in the log.
        if (!this.connected && !failed) return giveUp(new UpstreamFailure('closed during the SSH handshake', UNAVAILABLE, 'handshake'));
        if (this.connected && this.channels.size > 0) this.log.warn({ upstream: this.upstream }, 'upstream connection lost');
        if (!failed) this.opts.observer?.upstreamFailed('lost'); // the upstream ended a connection we still used
        failed = true;
        const lost = new UpstreamFailure('upstream connection closed', UNAVAILABLE, 'lost');
        reject(lost);
        this.failAll(lost);
      });
      const config = {
        host: this.route.host,
        port: this.route.port,
        username: this.route.user,
        privateKey,
        readyTimeout: this.opts.connectTimeout * 1000,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
          this.opts.verifier.verify(this.route, blob).then((verdict) => {
            if (!verdict.ok) hostKeyProblem = verdict.reason;
            else if (verdict.pinnedNow) this.log.info({ upstream: this.upstream }, 'upstream host key pinned (first use)');
            verify(verdict.ok);
          }, (err: Error) => { hostKeyProblem = err.message; verify(false); });
        },
      } as ssh2.ConnectConfig;
      try {
        this.ssh.connect(config);
      } catch (err) { // ssh2 throws for what it cannot use at all (a key it cannot parse, ...)
        return giveUp(new UpstreamFailure(`cannot connect: ${(err as Error).message}`, REFUSED, 'key'));
      }
      this.ssh.setNoDelay(true);
    });
  }

  openSftp(channel: SftpChannel): void {
    this.channels.add(channel);
    channel.on('close', () => this.channels.delete(channel));
    this.ready.then(() => {
      const failWith = (reason: string, message: string, logMsg = 'upstream failed'): void => {
        this.log.error({ upstream: this.upstream, reason }, logMsg);
        this.opts.observer?.upstreamFailed('subsystem');
        this.fail(channel, new UpstreamFailure(reason, message, 'subsystem'));
      };
      const opened = (err: Error | undefined, up: ClientChannel): void => {
        if (err) return failWith(err.message, UNAVAILABLE, 'upstream refused the sftp subsystem');
        if (!this.channels.has(channel)) return void up.close(); // the client left meanwhile
        const inspector = this.ctx.inspector?.({ home: this.route.home });
        const counters = pipeChannels(channel, up, { inspector, home: this.route.home, log: this.log });
        this.live.add(counters);
        channel.once('close', () => {
          this.live.delete(counters);
          this.ended.bytesUp += counters.bytesUp;
          this.ended.bytesDown += counters.bytesDown;
        });
      };
      // ssh2 throws (synchronously) when the connection dropped after 'ready'.
      try {
        this.ssh.subsys('sftp', opened);
      } catch (err) {
        failWith((err as Error).message, UNAVAILABLE);
      }
    }, (failure: UpstreamFailure) => this.fail(channel, failure));
  }

  get counters(): TransferCounters {
    let { bytesUp, bytesDown } = this.ended;
    for (const c of this.live) { bytesUp += c.bytesUp; bytesDown += c.bytesDown; }
    return { bytesUp, bytesDown };
  }

  private fail(channel: SftpChannel, failure: UpstreamFailure): void {
    if (!this.channels.delete(channel)) return;
    channel.stderr.write(failure.clientMessage + '\n');
    channel.exit(1);
    channel.end();
  }

  private failAll(failure: UpstreamFailure): void {
    for (const ch of [...this.channels]) this.fail(ch, failure);
  }

  close(): void {
    this.closed = true;
    // Mid-dial there is nothing to say goodbye to: drop the TCP connection (or the attempt) now.
    if (this.connected) this.ssh.end();
    else this.ssh.destroy();
  }
}
