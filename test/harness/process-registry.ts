/**
 * Process-exit safety net.
 *
 * Every child process the harness starts is registered here. When the test
 * process exits (normally, via an uncaught exception, or on SIGINT/SIGTERM/
 * SIGHUP) every registered child that is still alive — and its descendants,
 * e.g. sshd's per-connection children — is SIGKILLed synchronously, and
 * registered temp directories are removed. Nothing started by the harness can
 * outlive a crashing test file.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';

interface Entry {
  name: string;
  child: ChildProcess;
}

const children = new Map<number, Entry>();
const cleanups = new Map<string, () => void>();
let installed = false;

/** Returns true if a process with this PID exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(pid, 0); treat it as dead.
  const state = statFields(pid)?.[0];
  return state !== 'Z' && state !== 'X';
}

/** The fields of /proc/PID/stat after the command name (state, ppid, ...), or null once it is gone. */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The parent of `pid`, or undefined once it is gone. */
export function parentPid(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : undefined;
}

/** All descendant PIDs of `pid` (children, grandchildren, ...), read from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(name);
    if (!fields) continue; // vanished while scanning
    const ppid = Number(fields[1]);
    const list = parentOf.get(ppid) ?? [];
    list.push(Number(name));
    parentOf.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of parentOf.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Send `signal` to `pid` and all its descendants; errors (already gone) are ignored. */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  const tree = [pid, ...descendants(pid)];
  for (const p of tree) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

function killAllSync(): void {
  for (const [pid] of children) signalTree(pid, 'SIGKILL');
  children.clear();
  for (const fn of cleanups.values()) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
  cleanups.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync();
      // Re-raise with the default disposition so the exit status is preserved.
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Register a child so it is killed if the test process exits while it runs.
 * It is unregistered automatically when it exits.
 */
export function trackChild(child: ChildProcess, name: string): void {
  install();
  const pid = child.pid;
  if (pid === undefined) return;
  children.set(pid, { name, child });
  child.once('exit', () => {
    if (children.get(pid)?.child === child) children.delete(pid);
  });
}

/** Names and PIDs of registered children that have not exited yet. */
export function trackedChildren(): { pid: number; name: string }[] {
  return [...children].map(([pid, e]) => ({ pid, name: e.name }));
}

/** Register a temp directory to be removed (synchronously) at process exit. */
export function trackDir(path: string): void {
  install();
  cleanups.set(path, () => rmSync(path, { recursive: true, force: true }));
}

/** Forget a temp directory registered with {@link trackDir}. */
export function untrackDir(path: string): void {
  cleanups.delete(path);
}

/**
 * Wait for `child` to exit, resolving with its exit code (null if killed by a
 * signal). Resolves immediately if it already exited.
 */
export function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode);
  }
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
}

/**
 * Stop a child: send `signal` (default SIGTERM), then SIGKILL if it has not
 * exited after `graceMs`. Resolves with the exit code (null if signalled).
 */
export async function stopChild(
  child: ChildProcess,
  opts: { signal?: NodeJS.Signals; graceMs?: number; tree?: boolean } = {},
): Promise<number | null> {
  const { signal = 'SIGTERM', graceMs = 5000, tree = false } = opts;
  const exited = waitForExit(child);
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  const pid = child.pid!;
  const send = (s: NodeJS.Signals): void => {
    if (tree) signalTree(pid, s);
    else {
      try {
        child.kill(s);
      } catch {
        // gone
      }
    }
  };
  send(signal);
  const timer = setTimeout(() => send('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
