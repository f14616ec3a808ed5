// State the limits and the brute-force defender share. It must be the same for every process of
// the server, and for every instance when they share Redis: held in Redis when the server uses
// Redis, in the --workers primary's memory (reached over IPC) otherwise, in memory for one process.
// Each of the three is one file implementing these interfaces.

/** One place taken under a limit; giving it back is idempotent. */
export interface Lease {
  release(): void;
}

export interface CounterStore {
  /**
   * Take a place under `key` if fewer than `limit` are taken (limit 0: no limit, nothing counted:
   * an always-granted lease). Resolves null when full. A store that cannot be asked grants the
   * place (fail open: a Redis outage must not lock everyone out) and says so once in the log.
   */
  acquire(key: string, limit: number): Promise<Lease | null>;
}

export interface BanRecord {
  ip: string;
  /** ms since the epoch. */
  since: number;
  until: number;
  score: number;
}

export interface BanStore {
  /** The ban in force for `ip`, if any. Unknown (store down): none (fail open). */
  banned(ip: string): Promise<BanRecord | undefined>;
  /** Record a ban; true if it is new (the caller logs one line per ban, not per process). */
  ban(record: BanRecord): Promise<boolean>;
  /** Lift a ban; true if there was one. */
  lift(ip: string): Promise<boolean>;
  list(): Promise<BanRecord[]>;
}

export const NO_LEASE: Lease = Object.freeze({ release() {} });
