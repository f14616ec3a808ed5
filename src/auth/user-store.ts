// The auth seam: every place users come from (Redis pysftpproxy schema, Redis solt schema,
// a users file, ...) is one class implementing UserStore. The SSH server knows only this.

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

/** A user the store has let in, with what the backend needs to serve them. */
export interface AuthorizedUser {
  name: string;
  /** Proxy mode: the upstream to connect to. */
  route?: Route;
  /** Local mode: absolute path of the folder served as `/`. */
  folder?: string;
}

export type AuthDecision =
  | { ok: true; user: AuthorizedUser }
  /** `reason` is for the operator's log only, never sent to the client. */
  | { ok: false; reason: string };

/** Thrown when the backing store cannot be asked (Redis down, file unreadable). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

export interface UserStore {
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
