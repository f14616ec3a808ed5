// Shared state for --workers without Redis: the primary holds it in memory and the workers ask it
// over node:cluster's IPC channel. A worker's places are freed when it exits, however it exits.
import cluster, { type Worker } from 'node:cluster';
import { MemoryBans, MemoryCounters } from './memory-state.js';
import { NO_LEASE, type BanRecord, type BanStore, type CounterStore, type Lease } from './shared-state.js';

const TAG = 'pysftpproxy:state';

type Request =
  | { op: 'acquire'; key: string; limit: number }
  | { op: 'release'; lease: number }
  | { op: 'banned'; ip: string }
  | { op: 'ban'; record: BanRecord }
  | { op: 'lift'; ip: string }
  | { op: 'list' };

interface Envelope { tag: typeof TAG; id: number; req?: Request; res?: unknown; error?: string }

/** Primary side: answer every worker's requests; call once, before forking. */
export function servePrimaryState(): { counters: MemoryCounters; bans: MemoryBans } {
  const counters = new MemoryCounters();
  const bans = new MemoryBans();
  const leases = new Map<Worker, Map<number, Lease>>();
  let nextLease = 1;
  const handle = async (worker: Worker, req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'acquire': {
        const lease = counters.take(req.key, req.limit);
        if (!lease) return null;
        const id = nextLease++;
        let held = leases.get(worker);
        if (!held) leases.set(worker, (held = new Map()));
        held.set(id, lease);
        return id;
      }
      case 'release': {
        const held = leases.get(worker);
        held?.get(req.lease)?.release();
        held?.delete(req.lease);
        return true;
      }
      case 'banned': return (await bans.banned(req.ip)) ?? null;
      case 'ban': return bans.ban(req.record);
      case 'lift': return bans.lift(req.ip);
      case 'list': return bans.list();
    }
  };
  cluster.on('message', (worker, msg: Envelope) => {
    if (msg?.tag !== TAG || !msg.req) return;
    handle(worker, msg.req).then(
      (res) => { if (worker.isConnected()) worker.send({ tag: TAG, id: msg.id, res }); },
      (err: Error) => { if (worker.isConnected()) worker.send({ tag: TAG, id: msg.id, error: err.message }); },
    );
  });
  cluster.on('exit', (worker) => {
    for (const lease of leases.get(worker)?.values() ?? []) lease.release();
    leases.delete(worker);
  });
  return { counters, bans };
}

/** Worker side: one request, one answer; the primary not answering within 2 s counts as "cannot ask". */
class PrimaryLink {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor() {
    process.on('message', (msg: Envelope) => {
      if (msg?.tag !== TAG || msg.req) return;
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      clearTimeout(w.timer);
      if (msg.error) w.reject(new Error(msg.error));
      else w.resolve(msg.res);
    });
  }

  ask<T>(req: Request): Promise<T> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('the primary did not answer'));
      }, 2000);
      timer.unref();
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      process.send?.({ tag: TAG, id, req });
    });
  }
}

let link: PrimaryLink | undefined;
const primary = (): PrimaryLink => (link ??= new PrimaryLink());

export class ClusterCounters implements CounterStore {
  async acquire(key: string, limit: number): Promise<Lease | null> {
    if (limit <= 0) return NO_LEASE;
    let id: number | null;
    try {
      id = await primary().ask<number | null>({ op: 'acquire', key, limit });
    } catch {
      return NO_LEASE; // fail open, as with Redis
    }
    if (id === null) return null;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        primary().ask({ op: 'release', lease: id! }).catch(() => {});
      },
    };
  }
}

export class ClusterBans implements BanStore {
  async banned(ip: string): Promise<BanRecord | undefined> {
    try {
      return (await primary().ask<BanRecord | null>({ op: 'banned', ip })) ?? undefined;
    } catch {
      return undefined;
    }
  }

  ban(record: BanRecord): Promise<boolean> { return primary().ask({ op: 'ban', record }); }
  lift(ip: string): Promise<boolean> { return primary().ask({ op: 'lift', ip }); }
  list(): Promise<BanRecord[]> { return primary().ask({ op: 'list' }); }
}
