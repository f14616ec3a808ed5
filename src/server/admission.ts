// --max-startups, decided at accept before any SSH work is spent on a connection: connections not
// logged in yet, held at once by this process. At the cap a newcomer is not
//   simply refused, or one source holding every slot (a flood of silent sockets) would lock out
//   everyone else until the grace time frees them: a newcomer from an address holding fewer
//   startups than the busiest address takes the place of that address's oldest startup. Only a
//   newcomer from (one of) the busiest addresses is refused. A flood from one address then
//   costs that address its own slots, not other people's logins.
// The limit can be changed while running (SIGHUP); connections already held are not affected.

export interface AdmissionLimits {
  maxStartups: number;
}

/** One connection's place, from accept until its close. */
export interface Ticket {
  readonly ip: string;
  /** Logged in: no longer counts as a startup. */
  authenticated(): void;
  /** Closed: frees everything it counted in. Idempotent. */
  release(): void;
}

export type Admitted =
  | { ok: true; ticket: Ticket; evicted?: EvictedStartup }
  | { ok: false; reason: 'max-startups'; limit: number };

/** A startup that had to make room: the caller closes its connection. */
export interface EvictedStartup {
  ip: string;
  close: () => void;
}

interface Startup {
  ip: string;
  since: number;
  close: () => void;
}

export class Admission {
  /** Startups in accept order (a Set keeps insertion order; the oldest of an address is found first). */
  private readonly startups = new Set<Startup>();
  private readonly startupsPerIp = new Map<string, number>();

  constructor(private limits: AdmissionLimits) {}

  setLimits(limits: AdmissionLimits): void {
    this.limits = limits;
  }

  get startupCount(): number {
    return this.startups.size;
  }

  /** `close` ends the connection if it has to make room for another. */
  admit(ip: string, close: () => void): Admitted {
    const { maxStartups } = this.limits;
    let evicted: EvictedStartup | undefined;
    if (this.startups.size >= maxStartups) {
      const victim = this.victimFor(ip);
      if (!victim) return { ok: false, reason: 'max-startups', limit: maxStartups };
      this.dropStartup(victim);
      evicted = { ip: victim.ip, close: victim.close };
    }
    const startup: Startup = { ip, since: Date.now(), close };
    this.startups.add(startup);
    bump(this.startupsPerIp, ip, 1);
    let released = false;
    let starting = true;
    const ticket: Ticket = {
      ip,
      authenticated: () => {
        if (!starting || released) return;
        starting = false;
        this.dropStartup(startup);
      },
      release: () => {
        if (released) return;
        released = true;
        if (starting) this.dropStartup(startup);
      },
    };
    return evicted ? { ok: true, ticket, evicted } : { ok: true, ticket };
  }

  /** The oldest startup of the busiest address, if `ip` holds fewer startups than that address. */
  private victimFor(ip: string): Startup | undefined {
    let busiest: string | undefined;
    let most = 0;
    for (const [addr, n] of this.startupsPerIp) if (n > most) { most = n; busiest = addr; }
    if (busiest === undefined || (this.startupsPerIp.get(ip) ?? 0) + 1 >= most) return undefined;
    for (const s of this.startups) if (s.ip === busiest) return s;
    return undefined;
  }

  private dropStartup(s: Startup): void {
    if (!this.startups.delete(s)) return;
    bump(this.startupsPerIp, s.ip, -1);
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
