// Runs a session's requests concurrently where that is safe and in arrival order where it
// matters. READ/WRITE/FSTAT ("parallel") overlap freely so pipelined transfers keep the disk
// busy; everything else ("serial") waits for all earlier requests and blocks later ones. That
// keeps OpenSSH's one-at-a-time semantics for metadata (mkdir then open, write then fsync) and
// guarantees CLOSE never closes an fd under an in-flight read - which could otherwise hit
// another file that reused the fd number.

export type RequestKind = 'parallel' | 'serial';

interface Queued {
  kind: RequestKind;
  run: () => Promise<void>;
}

export class RequestScheduler {
  private queue: Queued[] = [];
  private running = 0;
  private serialRunning = false;
  private idleWaiters: Array<() => void> = [];

  /** Called whenever a request finishes (the session uses it to read more input). */
  constructor(private readonly onSettled: () => void) {}

  /** Requests accepted and not yet finished. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /** `run` must not reject; failures are turned into replies by the caller. */
  submit(kind: RequestKind, run: () => Promise<void>): void {
    this.queue.push({ kind, run });
    this.drain();
  }

  /** Forget requests that have not started (session teardown). */
  dropQueued(): void {
    this.queue = [];
    this.checkIdle();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.serialRunning) {
      const head = this.queue[0]!;
      if (head.kind === 'serial' && this.running > 0) return;
      this.queue.shift();
      this.start(head);
    }
  }

  private start(q: Queued): void {
    this.running++;
    if (q.kind === 'serial') this.serialRunning = true;
    q.run().then(
      () => this.finish(q),
      () => this.finish(q),
    );
  }

  private finish(q: Queued): void {
    this.running--;
    if (q.kind === 'serial') this.serialRunning = false;
    this.drain();
    this.checkIdle();
    this.onSettled();
  }

  private checkIdle(): void {
    if (this.pending !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
