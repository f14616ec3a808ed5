// The auth seam: every place users come from (Redis pysftpproxy schema, Redis solt schema,
// a users file, ...) is one class implementing UserStore. The SSH server knows only this.
import type { Permissions } from '../policy/permissions.js';

/** The public key a client offered: algorithm name and the SSH wire-format key blob. */
export interface ClientKey {
  algo: string;
  data: Buffer;
}

/** Where a proxied user's session goes. */
export interface Route {
  host: string;
  port: number;
  /** Login name on the upstream server. */
  user: string;
  /** Directory the client starts in; unset: whatever the upstream server chooses. */
  home?: string;
  /** Private key file for this user's upstream login; unset: the proxy's client key. */
  keyPath?: string;
  /** Pinned upstream host key fingerprint (`SHA256:...`). */
  hostKey?: string;
}

/** Where a user's sessions go: an upstream SFTP server (proxy mode) or a folder on disk (local mode). */
export type Target =
  | { kind: 'upstream'; route: Route }
  /** `path`: absolute, canonical path of the folder served as `/`. */
  | { kind: 'folder'; path: string };

/** What the user may do, whichever target serves them. */
export interface UserPolicy {
  permissions: Permissions;
}

/** A user as the store has it: a policy field the store leaves unset takes the server's default. */
export interface StoredUser {
  name: string;
  target: Target;
  policy: { permissions: Permissions | undefined };
}

/** A user the server has let in, with what the backend needs to serve them. */
export interface AuthorizedUser extends StoredUser {
  policy: UserPolicy;
}

/**
 * Why a login was refused, as a fixed set (metrics, brute-force scoring); the free text `reason`
 * says the rest for the log.
 * - unknown-user: no such user; unknown-key: the key is nobody's (both look like guessing)
 * - wrong-key: the user exists but this key is not theirs (or belongs to another user)
 * - inactive: the user is disabled; bad-data: the store's data for the user is unusable
 */
export type RefusalCode = 'unknown-user' | 'unknown-key' | 'wrong-key' | 'inactive' | 'bad-data';

export type AuthDecision =
  | { ok: true; user: StoredUser }
  /** `reason` is for the operator's log only, never sent to the client. */
  | { ok: false; code: RefusalCode; reason: string };

/** Thrown when the backing store cannot be asked (Redis down, file unreadable). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * What changed in a store: some users (by login name), or possibly anyone: the store was read
 * again (`reload`), or Redis came back and notices published meanwhile may be lost (`reconnect`).
 */
export type UserChange = { kind: 'users'; names: readonly string[] } | { kind: 'all'; reason: 'reload' | 'reconnect' };

export interface UserStore {
  /**
   * Called when users may have changed, so live sessions can be checked again (revocation).
   * Stores that cannot tell (none so far) never call it.
   */
  onChange?(listener: (change: UserChange) => void): void;
  /** Human-readable kind for logs, e.g. "redis-pysftpproxy". */
  readonly kind: string;
  /** Load initial state / subscribe to changes. Must not throw when the store is down: log and retry. */
  start(): Promise<void>;
  /**
   * May `key` log in as `username`? Called for the key query and again for the signed request.
   * Resolves a decision for anything about the data; rejects with StoreUnavailableError on outage.
   */
  authorize(username: string, key: ClientKey): Promise<AuthDecision>;
  close(): Promise<void>;
}
