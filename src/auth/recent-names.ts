// Remembers which names were used recently, in bounded memory: a client can invent millions of
// names, so the oldest are forgotten first once `max` are held (forgetting one only lets that name
// through again, still under whatever global limit the caller has).

export class RecentNames {
  /** name -> when it was recorded; Map order is insertion order, so the oldest come first. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly windowMs: number, private readonly max: number) {}

  /** Whether `name` was recorded within the window. */
  has(name: string, now = Date.now()): boolean {
    const at = this.seen.get(name);
    return at !== undefined && now - at < this.windowMs;
  }

  record(name: string, now = Date.now()): void {
    this.seen.delete(name);
    for (const [oldest, at] of this.seen) {
      if (now - at < this.windowMs && this.seen.size < this.max) break;
      this.seen.delete(oldest);
    }
    this.seen.set(name, now);
  }

  get size(): number {
    return this.seen.size;
  }
}
