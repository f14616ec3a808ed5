// Audit events as log lines: one pino line per event, msg "audit".
import type { Logger } from 'pino';
import type { AuditEvent, AuditSink } from './audit-event.js';

export class LogAuditSink implements AuditSink {
  constructor(private readonly log: Logger) {}

  emit(e: AuditEvent): void {
    this.log.info(e, 'audit');
  }
}

/** Every sink gets every event. */
export class FanOutSink implements AuditSink {
  constructor(private readonly sinks: readonly AuditSink[]) {}

  emit(e: AuditEvent): void {
    for (const s of this.sinks) s.emit(e);
  }
}
