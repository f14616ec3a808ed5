/**
 * A private HAProxy (Debian's `haproxy`, 2.6) started as operators run it, `haproxy -D -f CFG` with
 * a pidfile in `global`, and stopped by that PID. It daemonizes, so it is no child of ours: the
 * PID is killed at exit of the test process however that ends (as process-registry does for
 * children). deployHaproxyConfig() turns the shipped deploy/haproxy.cfg into a runnable one on
 * loopback ports, so the file operators copy is the file tested.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileCollect } from './exec.js';
import { isAlive } from './process-registry.js';
import { REPO_ROOT } from './proxy-process.js';

export interface HaproxyServer {
  /** The `server NAME` in the config. */
  name: string;
  port: number;
  /** The admin endpoint's port (the health check's `check port`). */
  adminPort: number;
}

export interface HaproxyHandle {
  readonly pid: number;
  readonly configPath: string;
  /** The stats socket (`stats socket` in global). */
  readonly statsSocket: string;
  /** `show stat` as rows of {pxname, svname, status, ...}. */
  stat(): Promise<Array<Record<string, string>>>;
  /** Status (UP, DOWN, ...) of every server of `backend`. */
  serverStates(backend: string): Promise<Record<string, string>>;
  /** Wait until the servers' states are `want` (e.g. {sftp1: 'UP'}), within `timeoutMs`. */
  waitForStates(backend: string, want: Record<string, string>, timeoutMs?: number): Promise<void>;
  /** SIGTERM by PID, SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

const running = new Set<number>();
let exitHookInstalled = false;

function killAtExit(pid: number): void {
  running.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of running) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
  });
}

/**
 * Write `config` to `dir`/haproxy.cfg, check it (`haproxy -c`), start `haproxy -D -f` and wait for
 * its pidfile. The config must name `pidfile` and `stats socket` in `global` (their paths are read
 * from it).
 */
export async function startHaproxy(dir: string, config: string): Promise<HaproxyHandle> {
  const configPath = join(dir, 'haproxy.cfg');
  await writeFile(configPath, config);
  const pidfile = /^\s*pidfile\s+(\S+)/m.exec(config)?.[1];
  const statsSocket = /^\s*stats socket\s+(\S+)/m.exec(config)?.[1];
  if (!pidfile || !statsSocket) throw new Error('startHaproxy: the config needs `pidfile` and `stats socket` in global');
  const check = await execFileCollect(HAPROXY, ['-c', '-f', configPath], { timeoutMs: 10_000 });
  if (check.code !== 0) throw new Error(`haproxy -c refused the config (${check.code}):\n${check.stdout}${check.stderr}\n${config}`);
  const started = await execFileCollect(HAPROXY, ['-D', '-f', configPath], { timeoutMs: 10_000 });
  if (started.code !== 0) throw new Error(`haproxy -D failed (${started.code}):\n${started.stdout}${started.stderr}`);
  let pid = 0;
  const deadline = Date.now() + 5000;
  while (pid === 0) {
    pid = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim()) || 0;
    if (pid === 0 && Date.now() > deadline) throw new Error(`haproxy wrote no pidfile ${pidfile}`);
    if (pid === 0) await sleep(20);
  }
  killAtExit(pid);

  const stat = async (): Promise<Array<Record<string, string>>> => {
    const csv = await ask(statsSocket, 'show stat\n');
    const [head, ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
    const names = head!.replace(/^#\s*/, '').split(',');
    return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [names[i] ?? String(i), v])));
  };
  const serverStates = async (backend: string): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const row of await stat()) {
      if (row['pxname'] === backend && row['svname'] !== 'BACKEND' && row['svname'] !== 'FRONTEND') out[row['svname']!] = row['status']!;
    }
    return out;
  };
  return {
    pid,
    configPath,
    statsSocket,
    stat,
    serverStates,
    async waitForStates(backend, want, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let states: Record<string, string> = {};
      for (;;) {
        states = await serverStates(backend).catch(() => ({}));
        // "UP 1/2" while rising, "DOWN 1/2" while falling: only the settled word counts.
        if (Object.entries(want).every(([name, s]) => states[name] === s)) return;
        if (Date.now() > until) throw new Error(`haproxy servers of ${backend}: ${JSON.stringify(states)}, wanted ${JSON.stringify(want)}`);
        await sleep(100);
      }
    },
    async stop() {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      const until = Date.now() + 5000;
      while (isAlive(pid)) {
        if (Date.now() > until) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        }
        await sleep(20);
      }
      running.delete(pid);
    },
  };
}

/** One command on the stats socket; resolves with the whole answer. */
function ask(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let out = '';
    sock.setEncoding('utf8');
    sock.setTimeout(3000, () => sock.destroy(new Error('haproxy stats socket: no answer')));
    sock.on('data', (d: string) => (out += d));
    sock.once('end', () => resolve(out));
    sock.once('error', reject);
    sock.once('connect', () => sock.write(command));
  });
}

export interface DeployConfigOptions {
  /** Where the pidfile and stats socket go. */
  dir: string;
  /** The frontend's `bind` (HOST:PORT). */
  bind: string;
  /** The shipped file's servers, in order, as they run on loopback. */
  servers: HaproxyServer[];
}

/**
 * deploy/haproxy.cfg with only what a loopback test must change: the listening address, the
 * servers' addresses and check ports, the pidfile and stats socket paths, and the lines that need
 * root's setup (chroot, user, group, the syslog socket). Every one of them must be in the file
 * exactly once, so an edit of the shipped file that this test would no longer cover fails here.
 */
export function deployHaproxyConfig(o: DeployConfigOptions): string {
  let text = readFileSync(join(REPO_ROOT, 'deploy', 'haproxy.cfg'), 'utf8');
  const replace = (pattern: RegExp, by: string): void => {
    const hits = text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
    if (hits !== 1) throw new Error(`deploy/haproxy.cfg: expected one line matching ${pattern}, found ${hits}`);
    text = text.replace(new RegExp(pattern.source, 'm'), by);
  };
  replace(/^(\s*)bind\s+\S+$/, `$1bind ${o.bind}`);
  replace(/^(\s*)pidfile\s+\S+$/, `$1pidfile ${join(o.dir, 'haproxy.pid')}`);
  replace(/^(\s*)stats socket\s+\S+/, `$1stats socket ${join(o.dir, 'haproxy.sock')}`);
  replace(/^\s*chroot\s+\S+\n/, '');
  replace(/^\s*user\s+haproxy\n/, '');
  replace(/^\s*group\s+haproxy\n/, '');
  replace(/^\s*log \/dev\/log local0\n/, '');
  const servers = text.match(/^\s*server\s+\S+\s+\S+.*$/gm) ?? [];
  if (servers.length !== o.servers.length) throw new Error(`deploy/haproxy.cfg has ${servers.length} servers, the test runs ${o.servers.length}`);
  for (const s of o.servers) {
    replace(new RegExp(`^(\\s*server\\s+${s.name}\\s+)\\S+(.*\\bcheck port\\s+)\\d+`), `$1127.0.0.1:${s.port}$2${s.adminPort}`);
  }
  return text;
}
