// The child processes a demo started (sshd, redis-server), owned by PID: stopped in order at
// Ctrl-C or SIGTERM, and killed outright if the demo itself dies, so none outlives it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class OwnedProcesses {
  private readonly children = new Set<ChildProcess>();

  constructor() {
    // 'exit' handlers must be synchronous: a signal is all there is time for.
    process.on('exit', () => {
      for (const c of this.children) this.signal(c, 'SIGKILL');
    });
  }

  /** Spawn `cmd` with its output captured into `output()` (for error messages). */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): { child: ChildProcess; output: () => string } {
    // In the demo's process group: a Ctrl-C on the terminal reaches them too, even if the demo
    // itself were wedged.
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.on('error', (err) => (text += `cannot run ${cmd}: ${err.message}\n`));
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return { child, output: () => text };
  }

  /** SIGTERM every child, SIGKILL what is left after `graceMs`; resolves when all are gone. */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c, graceMs)));
  }

  async stop(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.signal(child, 'SIGTERM');
    const timer = setTimeout(() => this.signal(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private signal(child: ChildProcess, sig: NodeJS.Signals): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { child.kill(sig); } catch { /* already gone */ }
  }
}
