// One connection's authentication: publickey only, each attempt decided on its own.
// - Every attempt asks the store again, the signed request too: a key removed between the key
//   query and the signature is refused (no decision is cached on the connection).
// - Refused attempts are counted; at --max-auth-tries the connection is closed (OpenSSH's
//   MaxAuthTries counts key offers the same way). What was refused is tallied for the defender.
// - --max-sessions-per-user is taken at the signed request, before the login is accepted.
// - User names are client input: checked for length and control characters before any store
//   sees them, and shortened in the log.
// - Nothing here may throw into ssh2: an unexpected error refuses the attempt and is logged.
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import type { Logger } from 'pino';
import { fingerprint } from '../keys/fingerprint.js';
import { clientText } from '../log/client-text.js';
import type { LoginRefusal, Metrics } from '../ops/metrics.js';
import type { Lease } from '../ops/shared-state.js';
import { formatPermissions, type Permissions } from '../policy/permissions.js';
import { StoreUnavailableError, type AuthorizedUser, type UserStore } from '../auth/user-store.js';
import type { Backend } from './backend.js';
import { algorithmProblem, signatureProblem } from './verify-signature.js';

/** Longer than any name a store accepts (they cap at 256). */
const MAX_USERNAME_BYTES = 256;

export interface AuthOutcome {
  /** Set once a signed request was accepted (before ssh2 emits 'ready'). */
  user: AuthorizedUser | undefined;
  /** The key the user logged in with, for later re-checks (revocation). */
  key: { algo: string; data: Buffer } | undefined;
  /** The user's place under --max-sessions-per-user, held until the connection closes. */
  session: Lease | undefined;
}

/** What the limits and defaults are right now (they change on SIGHUP). */
export interface AuthSettings {
  maxAuthTries: number;
  maxSessionsPerUser: number;
  /** For users whose store entry names no permissions. */
  defaultPermissions: Permissions;
}

export interface PublicKeyAuthOptions {
  store: UserStore;
  backend: Backend;
  log: Logger;
  metrics: Metrics;
  settings: () => AuthSettings;
  /** A place for `user` under --max-sessions-per-user (null: full). */
  reserveSession: (user: string, limit: number) => Promise<Lease | null>;
  /** The connection must close: too many failures. */
  onTooManyFailures: (failures: number) => void;
  /** Whether the client is still there (a decision arriving after its close is dropped). */
  isOpen: () => boolean;
  /** Whether sessions are inspected; if not, only users with every permission can be served. */
  inspecting: boolean;
}

/** Refusals that look like guessing (scored 2 by the defender) and like a wrong credential (1). */
const GUESSES: ReadonlySet<LoginRefusal> = new Set(['unknown-user', 'unknown-key', 'bad-name']);
const WRONG: ReadonlySet<LoginRefusal> = new Set(['wrong-key', 'bad-signature', 'inactive', 'method']);

export class PublicKeyAuth {
  readonly outcome: AuthOutcome = { user: undefined, key: undefined, session: undefined };
  /** Refused attempts by kind, for the defender if the connection never logs in. */
  readonly tally = { unknown: 0, refused: 0 };
  private failures = 0;

  constructor(private readonly opts: PublicKeyAuthOptions) {}

  /** ssh2's 'authentication' event. */
  handle(ctx: AuthContext): void {
    // The connection is closing; a request the client sent meanwhile gets no more work.
    if (this.failures >= this.opts.settings().maxAuthTries) return;
    if (ctx.method !== 'publickey') {
      // 'none' is how clients ask which methods exist: answered, not counted (as OpenSSH).
      if (ctx.method !== 'none') {
        this.opts.log.info({ user: clientText(ctx.username), method: ctx.method }, 'login refused: only publickey is allowed');
        return this.refuse(ctx, 'method');
      }
      return void ctx.reject(['publickey']);
    }
    this.onPublicKey(ctx).catch((err: unknown) => {
      this.opts.metrics.bug();
      this.opts.log.error({ err, user: clientText(ctx.username) }, 'bug: authentication handler failed; attempt refused');
      this.refuse(ctx, 'internal');
    });
  }

  private refuse(ctx: AuthContext, why: LoginRefusal): void {
    this.failures++;
    this.opts.metrics.loginRefused(why);
    if (GUESSES.has(why)) this.tally.unknown++;
    else if (WRONG.has(why)) this.tally.refused++;
    if (!this.opts.isOpen()) return;
    ctx.reject(['publickey']);
    if (this.failures >= this.opts.settings().maxAuthTries) this.opts.onTooManyFailures(this.failures);
  }

  private async onPublicKey(ctx: PublicKeyAuthContext): Promise<void> {
    const key = fingerprint(ctx.key.data);
    const user = clientText(ctx.username);
    const refuse = (why: LoginRefusal, reason: string): void => {
      this.opts.log.info({ user, key, reason }, 'login refused');
      this.refuse(ctx, why);
    };
    const nameProblem = usernameProblem(ctx.username);
    if (nameProblem) return refuse('bad-name', nameProblem);
    const problem = ctx.signature ? signatureProblem(ctx) : algorithmProblem(ctx);
    if (problem) return refuse(problem === 'bad signature' ? 'bad-signature' : 'key-type', problem);
    let decision;
    try {
      decision = await this.opts.store.authorize(ctx.username, { algo: ctx.key.algo, data: ctx.key.data });
    } catch (err) {
      const why = err instanceof StoreUnavailableError ? err.message : `store error: ${(err as Error).message}`;
      return refuse('store-unavailable', `user store unavailable (${why})`);
    }
    if (!this.opts.isOpen()) return; // the client left while the store answered
    if (!decision.ok) return refuse(decision.code, decision.reason);
    const unservable = this.opts.backend.refusal(decision.user, ctx.key.data);
    if (unservable) return refuse('not-servable', unservable);
    if (!ctx.signature) return void ctx.accept(); // "this key would do": the client now signs with it

    const settings = this.opts.settings();
    const session = await this.opts.reserveSession(ctx.username, settings.maxSessionsPerUser);
    if (!session) return refuse('max-sessions-per-user', `the user has ${settings.maxSessionsPerUser} sessions open (--max-sessions-per-user)`);
    if (!this.opts.isOpen()) return session.release();
    const stored = decision.user;
    const u: AuthorizedUser = { ...stored, policy: { permissions: stored.policy.permissions ?? settings.defaultPermissions } };
    if (!this.opts.inspecting && formatPermissions(u.policy.permissions) !== '*') {
      session.release();
      return refuse('not-servable', 'the user has restricted permissions, which --sftp-filter off cannot enforce');
    }
    const t = u.target;
    this.opts.log.info({ user, key, ...(t.kind === 'upstream' ? { upstream: `${t.route.user}@${t.route.host}:${t.route.port}` } : { folder: t.path }),
      permissions: formatPermissions(u.policy.permissions) }, 'login accepted');
    this.opts.metrics.loginAccepted();
    // Before accepting: ssh2 may emit 'ready' inside accept().
    this.outcome.user = u;
    this.outcome.key = { algo: ctx.key.algo, data: ctx.key.data };
    this.outcome.session = session;
    ctx.accept();
  }
}

function usernameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty user name';
  if (Buffer.byteLength(name) > MAX_USERNAME_BYTES) return `user name longer than ${MAX_USERNAME_BYTES} bytes`;
  if (/[\x00-\x1f\x7f\uFFFD]/.test(name)) return 'user name with control characters or invalid UTF-8';
  return undefined;
}
