// Shared state for one process (and, in the --workers primary, for all its workers over IPC).
import { NO_LEASE, type BanRecord, type BanStore, type CounterStore, type Lease } from './shared-state.js';

export class MemoryCounters implements CounterStore {
  private readonly counts = new Map<string, number>();

  async acquire(key: string, limit: number): Promise<Lease | null> {
    return this.take(key, limit);
  }

  /** Synchronous form, for the IPC service. */
  take(key: string, limit: number): Lease | null {
    if (limit <= 0) return NO_LEASE;
    const n = this.counts.get(key) ?? 0;
    if (n >= limit) return null;
    this.counts.set(key, n + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.counts.get(key) ?? 1) - 1;
        if (left <= 0) this.counts.delete(key);
        else this.counts.set(key, left);
      },
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

export class MemoryBans implements BanStore {
  private readonly bans = new Map<string, BanRecord>();

  async banned(ip: string): Promise<BanRecord | undefined> {
    const b = this.bans.get(ip);
    if (b && b.until <= Date.now()) {
      this.bans.delete(ip);
      return undefined;
    }
    return b;
  }

  async ban(record: BanRecord): Promise<boolean> {
    if (await this.banned(record.ip)) return false;
    this.bans.set(record.ip, record);
    return true;
  }

  async lift(ip: string): Promise<boolean> {
    return this.bans.delete(ip);
  }

  async list(): Promise<BanRecord[]> {
    const now = Date.now();
    for (const [ip, b] of this.bans) if (b.until <= now) this.bans.delete(ip);
    return [...this.bans.values()];
  }
}
