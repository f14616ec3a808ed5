// Revocation that ends live sessions: the logged-in connections by user, asked about again when
// the store announces a change (UserStore.onChange), with the key each logged in with. No longer
// allowed: the connection is ended; new permissions: its next request follows them; a new route:
// logged, the session keeps its upstream.
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { AuthorizedUser, ClientKey, UserChange, UserStore } from '../auth/user-store.js';
import { formatPermissions, type Permissions } from '../policy/permissions.js';
import type { Backend } from './backend.js';

/** A logged-in connection, as revocation sees it. */
export interface LiveLogin {
  user: AuthorizedUser;
  key: ClientKey;
  log: Logger;
  revoke(reason: string): void;
  /** A re-check to try again (the store did not answer). */
  retry?: NodeJS.Timeout;
}

const RECHECK_RETRY_MS = 2000;
/** How long after a Redis reconnect the live sessions are checked again. */
const RECONNECT_SETTLE_MS = 5000;

export class LiveLogins {
  private readonly byUser = new Map<string, Set<LiveLogin>>();
  /** Re-checks run a few at a time: a reload re-checks every live session. */
  private readonly recheckLimit = pLimit(8);
  private reconnectCheck: NodeJS.Timeout | undefined;

  constructor(private readonly store: UserStore, private readonly backend: Backend, private readonly defaultPermissions: () => Permissions) {
    store.onChange?.((change) => this.onChange(change));
  }

  add(l: LiveLogin): void {
    let set = this.byUser.get(l.user.name);
    if (!set) this.byUser.set(l.user.name, (set = new Set()));
    set.add(l);
  }

  remove(l: LiveLogin): void {
    clearTimeout(l.retry);
    const set = this.byUser.get(l.user.name);
    set?.delete(l);
    if (set?.size === 0) this.byUser.delete(l.user.name);
  }

  /** The store says these users (or anyone) may have changed: check their live logins again. */
  private onChange(change: UserChange): void {
    if (change.kind === 'all' && change.reason === 'reconnect') {
      // A Redis that just came back may still be filling (a restore, a replica catching up):
      // the live sessions are asked about a few seconds later, not at the first instant.
      if (this.reconnectCheck) return;
      this.reconnectCheck = setTimeout(() => {
        this.reconnectCheck = undefined;
        this.onChange({ kind: 'all', reason: 'reload' });
      }, RECONNECT_SETTLE_MS);
      this.reconnectCheck.unref();
      return;
    }
    const logins = change.kind === 'all' ? [...this.byUser.values()].flatMap((s) => [...s]) : change.names.flatMap((n) => [...(this.byUser.get(n) ?? [])]);
    for (const l of logins) void this.recheckLimit(() => this.recheck(l));
  }

  /**
   * One live login asked about again, with the key it logged in with: no longer allowed (key
   * removed, user gone or inactive) ends it; new permissions apply to its next request; a new
   * route does not move it (its upstream stays; the next login takes the new one).
   */
  private async recheck(l: LiveLogin): Promise<void> {
    let d;
    try {
      d = await this.store.authorize(l.user.name, l.key);
    } catch (err) {
      // Right after a reconnect the store may not answer yet: ask again shortly, for as long as
      // the session lives (one retry pending per session at a time).
      if (!l.retry) {
        l.log.warn({ err: (err as Error).message }, 'live session not re-checked: the user store is unavailable; retrying');
        l.retry = setTimeout(() => {
          l.retry = undefined;
          if (this.byUser.get(l.user.name)?.has(l)) void this.recheckLimit(() => this.recheck(l));
        }, RECHECK_RETRY_MS);
        l.retry.unref();
      }
      return;
    }
    if (!d.ok) return l.revoke(d.reason);
    const unservable = this.backend.refusal(d.user, l.key.data);
    if (unservable) return l.revoke(unservable);
    const permissions = d.user.policy.permissions ?? this.defaultPermissions();
    if (formatPermissions(permissions) !== formatPermissions(l.user.policy.permissions)) {
      l.log.info({ from: formatPermissions(l.user.policy.permissions), to: formatPermissions(permissions) }, 'permissions changed: the live session follows');
    }
    if (JSON.stringify(d.user.target) !== JSON.stringify(l.user.target)) {
      l.log.info('route changed: this session keeps its upstream, new logins take the new one');
    }
    l.user = { ...l.user, policy: { permissions } };
  }
}
