// --audit-stream KEY: audit events also go to a Redis stream (XADD KEY MAXLEN ~ N), for an
// operator's application to consume. A slow or dead Redis must never slow or stop a transfer:
// events wait in a bounded queue, are written in batches, and when the queue is full new events
// are dropped, counted, and logged once per outage (with the count when Redis answers again).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditEvent, AuditSink } from './audit-event.js';

/** Events waiting for Redis at most; past it they are dropped. */
const MAX_QUEUED = 10_000;
const BATCH = 200;

export class RedisStreamSink implements AuditSink {
  private readonly queue: AuditEvent[] = [];
  private writing = false;
  private droppedInOutage = 0;
  private failing = false;
  /** Events dropped since start (the metric). */
  dropped = 0;

  constructor(private readonly redis: Redis, private readonly key: string, private readonly maxLen: number, private readonly log: Logger) {}

  emit(e: AuditEvent): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      if (this.droppedInOutage++ === 0) {
        this.log.warn({ stream: this.key, queued: MAX_QUEUED }, 'audit stream: redis is not keeping up, events are dropped (the log still has them)');
      }
      return;
    }
    this.queue.push(e);
    if (!this.writing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, BATCH);
        const pipe = this.redis.pipeline();
        for (const e of batch) pipe.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', ...fields(e));
        let failed: Error | undefined;
        try {
          const res = await pipe.exec();
          failed = res?.find(([err]) => err)?.[0] ?? undefined;
        } catch (err) {
          failed = err as Error;
        }
        if (failed) {
          if (!this.failing) this.log.warn({ stream: this.key, err: failed.message }, 'audit stream: cannot write to redis; retrying');
          this.failing = true;
          await new Promise((r) => setTimeout(r, 1000).unref());
          continue;
        }
        this.queue.splice(0, batch.length);
        if (this.failing || this.droppedInOutage > 0) {
          this.log.info({ stream: this.key, dropped: this.droppedInOutage }, 'audit stream: writing again');
          this.failing = false;
          this.droppedInOutage = 0;
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

function fields(e: AuditEvent): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(e)) if (v !== undefined) out.push(k, String(v));
  return out;
}
