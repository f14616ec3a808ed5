// Where `pysftpproxy bans` finds the bans: Redis, or a running server's admin endpoint.
import type { BanRecord } from '../ops/shared-state.js';

export interface BanSource {
  /** For messages: `redis HOST:PORT/DB` or `the admin endpoint http://...`. */
  where: string;
  list(): Promise<BanRecord[]>;
  /** Lift the ban under `key` (see ban-key.ts); true if there was one. */
  lift(key: string): Promise<boolean>;
  close(): Promise<void>;
}
