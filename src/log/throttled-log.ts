// Log volume is a resource a client can make us spend: an event that a flood repeats (refused
// connections, a limit biting) is logged the first time, then summarised at most once per
// interval with how many were not logged, instead of one line each.
import type { Logger } from 'pino';

interface Slot {
  /** Occurrences since the last line written. */
  suppressed: number;
  last: number;
  fields: object;
  msg: string;
  timer: NodeJS.Timeout | undefined;
}

/** At most this many distinct keys are tracked; a flood of new keys shares one overflow slot. */
const MAX_KEYS = 1000;

export class ThrottledLog {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly log: Logger, private readonly intervalMs = 10_000) {}

  /** Log `msg` under `key` (what makes two events "the same": message plus e.g. the limit). */
  info(key: string, fields: object, msg: string): void {
    const k = this.slots.has(key) || this.slots.size < MAX_KEYS ? key : '(overflow)';
    const now = Date.now();
    const slot = this.slots.get(k);
    if (!slot) {
      this.log.info(fields, msg);
      this.slots.set(k, { suppressed: 0, last: now, fields, msg, timer: this.expire(k) });
      return;
    }
    slot.fields = fields;
    slot.msg = msg;
    if (now - slot.last < this.intervalMs) {
      slot.suppressed++;
      return;
    }
    this.log.info({ ...fields, ...(slot.suppressed > 0 ? { suppressed: slot.suppressed } : {}) }, msg);
    slot.suppressed = 0;
    slot.last = now;
  }

  /** Write the pending summary (`suppressed`: events not logged one by one) and forget a quiet key. */
  private expire(key: string): NodeJS.Timeout {
    const t = setTimeout(() => {
      const slot = this.slots.get(key);
      if (!slot) return;
      if (slot.suppressed > 0) {
        this.log.info({ ...slot.fields, suppressed: slot.suppressed }, slot.msg);
        slot.suppressed = 0;
        slot.last = Date.now();
        slot.timer = this.expire(key);
        return;
      }
      this.slots.delete(key);
    }, this.intervalMs);
    t.unref();
    return t;
  }

  close(): void {
    for (const s of this.slots.values()) clearTimeout(s.timer);
    this.slots.clear();
  }
}
