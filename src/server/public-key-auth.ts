// One connection's authentication: publickey only, each attempt decided on its own.
// - Every attempt asks the store again, the signed request too: a key removed between the key
//   query and the signature is refused (no decision is cached on the connection).
// - Refused attempts are counted; at --max-auth-tries the connection is closed (OpenSSH's
//   MaxAuthTries counts key offers the same way).
// - User names are client input: checked for length and control characters before any store
//   sees them, and shortened in the log.
// - Nothing here may throw into ssh2: an unexpected error refuses the attempt and is logged.
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import type { Logger } from 'pino';
import { fingerprint } from '../keys/fingerprint.js';
import { formatPermissions } from '../policy/permissions.js';
import { StoreUnavailableError, type AuthorizedUser, type UserStore } from '../auth/user-store.js';
import type { Backend } from './backend.js';
import { clientText } from '../log/client-text.js';
import { algorithmProblem, signatureProblem } from './verify-signature.js';

/** Longer than any name a store accepts (they cap at 256). */
const MAX_USERNAME_BYTES = 256;

export interface AuthOutcome {
  /** Set once a signed request was accepted (before ssh2 emits 'ready'). */
  user: AuthorizedUser | undefined;
  /** The key the user logged in with (blob), for later re-checks (revocation). */
  keyBlob: Buffer | undefined;
}

export interface PublicKeyAuthOptions {
  store: UserStore;
  backend: Backend;
  log: Logger;
  maxAuthTries: () => number;
  /** The connection must close: too many failures. */
  onTooManyFailures: (failures: number) => void;
  /** Whether the client is still there (a decision arriving after its close is dropped). */
  isOpen: () => boolean;
}

export class PublicKeyAuth {
  readonly outcome: AuthOutcome = { user: undefined, keyBlob: undefined };
  private failures = 0;

  constructor(private readonly opts: PublicKeyAuthOptions) {}

  /** ssh2's 'authentication' event. */
  handle(ctx: AuthContext): void {
    // The connection is closing; a request the client sent meanwhile gets no more work.
    if (this.failures >= this.opts.maxAuthTries()) return;
    if (ctx.method !== 'publickey') {
      // 'none' is how clients ask which methods exist: answered, not counted (as OpenSSH).
      if (ctx.method !== 'none') {
        this.opts.log.info({ user: clientText(ctx.username), method: ctx.method }, 'login refused: only publickey is allowed');
        return this.refuse(ctx);
      }
      return void ctx.reject(['publickey']);
    }
    this.onPublicKey(ctx).catch((err: unknown) => {
      this.opts.log.error({ err, user: clientText(ctx.username) }, 'bug: authentication handler failed; attempt refused');
      this.refuse(ctx);
    });
  }

  private refuse(ctx: AuthContext): void {
    this.failures++;
    if (!this.opts.isOpen()) return;
    ctx.reject(['publickey']);
    if (this.failures >= this.opts.maxAuthTries()) this.opts.onTooManyFailures(this.failures);
  }

  private async onPublicKey(ctx: PublicKeyAuthContext): Promise<void> {
    const key = fingerprint(ctx.key.data);
    const user = clientText(ctx.username);
    const refuse = (reason: string): void => {
      this.opts.log.info({ user, key, reason }, 'login refused');
      this.refuse(ctx);
    };
    const nameProblem = usernameProblem(ctx.username);
    if (nameProblem) return refuse(nameProblem);
    const problem = ctx.signature ? signatureProblem(ctx) : algorithmProblem(ctx);
    if (problem) return refuse(problem);
    let decision;
    try {
      decision = await this.opts.store.authorize(ctx.username, { algo: ctx.key.algo, data: ctx.key.data });
    } catch (err) {
      const why = err instanceof StoreUnavailableError ? err.message : `store error: ${(err as Error).message}`;
      return refuse(`user store unavailable (${why})`);
    }
    if (!this.opts.isOpen()) return; // the client left while the store answered
    if (!decision.ok) return refuse(decision.reason);
    const unservable = this.opts.backend.refusal(decision.user, ctx.key.data);
    if (unservable) return refuse(unservable);
    if (!ctx.signature) return void ctx.accept(); // "this key would do": the client now signs with it
    const u = decision.user;
    const t = u.target;
    this.opts.log.info({ user, key, ...(t.kind === 'upstream' ? { upstream: `${t.route.user}@${t.route.host}:${t.route.port}` } : { folder: t.path }),
      permissions: formatPermissions(u.policy.permissions) }, 'login accepted');
    // Before accepting: ssh2 may emit 'ready' inside accept().
    this.outcome.user = u;
    this.outcome.keyBlob = ctx.key.data;
    ctx.accept();
  }
}

function usernameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty user name';
  if (Buffer.byteLength(name) > MAX_USERNAME_BYTES) return `user name longer than ${MAX_USERNAME_BYTES} bytes`;
  if (/[\x00-\x1f\x7f\uFFFD]/.test(name)) return 'user name with control characters or invalid UTF-8';
  return undefined;
}
