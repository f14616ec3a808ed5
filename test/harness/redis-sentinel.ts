/**
 * Redis Sentinel on loopback: a master, a replica and three sentinels (Debian's redis-sentinel),
 * each a foreground child with its own writable config file in its own directory, stopped by
 * PID (one replica by default, or more). The sentinels' config is deploy/sentinel.conf with the test's ports, passwords and
 * timings put in, so the shipped example is the one that runs. Passwords are set on the servers
 * and on the sentinels, as a deployment would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { stopChild, trackChild } from './process-registry.js';
import { REPO_ROOT } from './proxy-process.js';
import { makeTempDir, type TempDir } from './tmp.js';

export const SENTINEL_EXAMPLE = join(REPO_ROOT, 'deploy', 'sentinel.conf');

export interface StartSentinelsOptions {
  /** Replicas of the master (default 1; 2 leave one for a second failover after the first). */
  replicas?: number;
  /** Sentinel's down-after-milliseconds (default 1000: a fast failover for a test). */
  downAfterMs?: number;
  /** Sentinel's failover-timeout (default 5000). */
  failoverTimeoutMs?: number;
  /** How long to wait for the whole set-up to be ready (default 20 s). */
  timeoutMs?: number;
}

/** One redis-server or redis-sentinel process. */
export interface SentinelPartHandle {
  readonly role: 'server' | 'sentinel';
  readonly port: number;
  readonly pid: number;
  readonly running: boolean;
  readonly logPath: string;
}

export interface SentinelSetupHandle {
  /** The master group name (from deploy/sentinel.conf). */
  readonly name: string;
  /** requirepass of the master and replica (--redis-password). */
  readonly password: string;
  /** requirepass of the sentinels (--redis-sentinel-password). */
  readonly sentinelPassword: string;
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, as --redis-sentinels takes it. */
  readonly sentinelList: string;
  readonly servers: readonly SentinelPartHandle[];
  readonly sentinels: readonly SentinelPartHandle[];
  /** Every process started, for "are they all gone" checks. */
  pids(): number[];
  /** The master's port as the first answering sentinel reports it. */
  masterPort(): Promise<number>;
  /** SIGKILL the current master (by PID). Resolves with its port once it is gone. */
  killMaster(): Promise<number>;
  /** A planned failover (SENTINEL FAILOVER) with the master alive; resolves once the new master answers as one. */
  switchover(timeoutMs?: number): Promise<{ from: number; to: number }>;
  /** Wait until the sentinels report a master other than `oldPort`, and it answers as master. */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<number>;
  /**
   * A client on database `db` that finds the master through the sentinels and follows a
   * failover. Disconnected by close(). Errors are swallowed (listener attached).
   */
  client(db?: number): Redis;
  /** Wait until every write the master has taken reached the replica (WAIT 1). */
  replicated(client: Redis): Promise<void>;
  /** Stop every process (SIGTERM, SIGKILL after 5 s) and remove the directories. */
  close(): Promise<void>;
}

class Part implements SentinelPartHandle {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(readonly role: 'server' | 'sentinel', readonly port: number, readonly dir: string) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }
  get running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }
  get configPath(): string {
    return join(this.dir, this.role === 'server' ? 'redis.conf' : 'sentinel.conf');
  }
  get logPath(): string {
    return join(this.dir, `${this.role}.log`);
  }

  start(): void {
    const bin = this.role === 'server' ? 'redis-server' : 'redis-sentinel';
    const child = spawn(bin, [this.configPath], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.once('error', (err) => (this.output += `cannot spawn ${bin}: ${err.message}\n`));
    trackChild(child, `${bin}:${this.port}`);
    this.child = child;
  }

  async describe(): Promise<string> {
    const log = await readFile(this.logPath, 'utf8').catch(() => '');
    return `${this.role} on port ${this.port} (pid ${this.pid}, ${this.running ? 'running' : 'exited'}):\n${this.output}${log.slice(-3000)}`;
  }

  /** Killed on purpose (killMaster): not a failure of the set-up. */
  killed = false;

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (signal === 'SIGKILL') this.killed = true;
    if (this.child) await stopChild(this.child, { signal, graceMs: 5000 });
  }
}

/** A SENTINEL reply entry [k1, v1, k2, v2, ...] as an object. */
function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** One short-lived connection that gives up at once: for readiness polls. */
async function ask<T>(port: number, password: string, fn: (c: Redis) => Promise<T>): Promise<T | undefined> {
  const c = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, retryStrategy: () => null,
    enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } catch {
    return undefined;
  } finally {
    c.disconnect();
  }
}

function serverConfig(port: number, dir: string, password: string, replicaOf?: number): string {
  return [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${join(dir, 'server.log')}`, 'daemonize no',
    "save ''", 'appendonly no',
    // A replica that needs a full copy gets it at once, not after the default 5 s wait for others.
    'repl-diskless-sync-delay 0',
    // The same password as requirepass and masterauth: any of them may be the master after a failover.
    `requirepass ${password}`, `masterauth ${password}`,
    ...(replicaOf === undefined ? [] : [`replicaof 127.0.0.1 ${replicaOf}`]),
  ].join('\n') + '\n';
}

/** deploy/sentinel.conf with this sentinel's port, directory, log and the test's master, passwords and timings. */
function sentinelConfig(example: string, o: { port: number; dir: string; name: string; masterPort: number; password: string;
  sentinelPassword: string; downAfterMs: number; failoverTimeoutMs: number }): string {
  const replaced = new Map<RegExp, string>([
    [/^port\s/, `port ${o.port}`],
    [/^bind\s/, 'bind 127.0.0.1'],
    [/^dir\s/, `dir ${o.dir}`],
    [/^sentinel monitor\s/, `sentinel monitor ${o.name} 127.0.0.1 ${o.masterPort} 2`],
    [/^sentinel auth-pass\s/, `sentinel auth-pass ${o.name} ${o.password}`],
    [/^sentinel down-after-milliseconds\s/, `sentinel down-after-milliseconds ${o.name} ${o.downAfterMs}`],
    [/^sentinel failover-timeout\s/, `sentinel failover-timeout ${o.name} ${o.failoverTimeoutMs}`],
    [/^requirepass\s/, `requirepass ${o.sentinelPassword}`],
    [/^sentinel sentinel-pass\s/, `sentinel sentinel-pass ${o.sentinelPassword}`],
  ]);
  const seen = new Set<RegExp>();
  const lines = example.split('\n').map((line) => {
    for (const [pattern, value] of replaced) {
      if (pattern.test(line)) { seen.add(pattern); return value; }
    }
    return line;
  });
  const missing = [...replaced.keys()].filter((p) => !seen.has(p));
  if (missing.length > 0) throw new Error(`${SENTINEL_EXAMPLE} lacks lines matching ${missing.join(', ')}`);
  return [...lines, `logfile ${join(o.dir, 'sentinel.log')}`].join('\n') + '\n';
}

class SentinelSetup implements SentinelSetupHandle {
  readonly password = 'master-secret-pw';
  readonly sentinelPassword = 'sentinel-secret-pw';
  readonly servers: Part[] = [];
  readonly sentinels: Part[] = [];
  private readonly clients = new Set<Redis>();

  constructor(readonly name: string, private readonly tmp: TempDir) {}

  get sentinelList(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  pids(): number[] {
    return [...this.servers, ...this.sentinels].map((p) => p.pid).filter((p) => p > 0);
  }

  async init(o: Required<StartSentinelsOptions>): Promise<void> {
    const example = await readFile(SENTINEL_EXAMPLE, 'utf8');
    for (let i = 0; i <= o.replicas; i++) {
      const dir = join(this.tmp.path, i === 0 ? 'master' : `replica-${i}`);
      await mkdir(dir);
      const part = new Part('server', await freePort(), dir);
      await writeFile(part.configPath, serverConfig(part.port, dir, this.password, i === 0 ? undefined : this.servers[0]!.port));
      part.start();
      this.servers.push(part);
    }
    // Each sentinel is told its peers and the replicas up front, as it would write them into its
    // config itself after a few hello rounds: ready in about a second instead of five.
    const peers = await Promise.all([0, 1, 2].map(async () => ({ port: await freePort(), id: randomBytes(20).toString('hex') })));
    for (const [i, me] of peers.entries()) {
      const dir = join(this.tmp.path, `sentinel-${i}`);
      await mkdir(dir);
      const part = new Part('sentinel', me.port, dir);
      const known = [
        `sentinel myid ${me.id}`,
        ...peers.filter((p) => p !== me).map((p) => `sentinel known-sentinel ${this.name} 127.0.0.1 ${p.port} ${p.id}`),
        ...this.servers.slice(1).map((r) => `sentinel known-replica ${this.name} 127.0.0.1 ${r.port}`),
      ];
      await writeFile(part.configPath, sentinelConfig(example, { port: part.port, dir, name: this.name, masterPort: this.servers[0]!.port,
        password: this.password, sentinelPassword: this.sentinelPassword, downAfterMs: o.downAfterMs, failoverTimeoutMs: o.failoverTimeoutMs }) +
        known.join('\n') + '\n');
      part.start();
      this.sentinels.push(part);
    }
    await this.waitReady(o.timeoutMs);
  }

  /**
   * The replica (every running server but the master) in sync, and every sentinel seeing the
   * master, that replica as healthy, and its two peers (a quorum).
   */
  private async waitReady(timeoutMs: number, masterPort = this.servers[0]!.port): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exited = [...this.servers, ...this.sentinels].find((p) => !p.running && !p.killed);
      if (exited) throw new Error(`sentinel set-up: a process exited\n${await exited.describe()}`);
      const replicas = this.servers.filter((p) => p.port !== masterPort && p.running);
      let ready = true;
      for (const r of replicas) {
        if (ready) ready = await ask(r.port, this.password, async (c) => /master_link_status:up/.test(await c.info('replication'))) === true;
      }
      for (const s of this.sentinels) {
        if (!ready) break;
        ready = await ask(s.port, this.sentinelPassword, async (c) => {
          const addr = await c.call('SENTINEL', 'get-master-addr-by-name', this.name) as string[] | null;
          // Fresh INFO from each replica (a sentinel promotes none it has not heard from lately),
          // and a live link to each peer (they must agree the master is down).
          const known = (await c.call('SENTINEL', 'replicas', this.name) as string[][]).map(fields);
          const healthy = known.filter((r) => !/s_down|o_down|disconnected/.test(r['flags'] ?? '') && r['master-link-status'] === 'ok' &&
            Number(r['info-refresh']) < 5000);
          const peers = (await c.call('SENTINEL', 'sentinels', this.name) as string[][]).map(fields)
            .filter((p) => !/s_down|disconnected/.test(p['flags'] ?? '') && Number(p['last-ok-ping-reply']) < 2000);
          return Number(addr?.[1]) === masterPort && healthy.length === replicas.length && peers.length === 2;
        }) === true;
      }
      if (ready) return;
      if (Date.now() > deadline) {
        const parts = await Promise.all([...this.servers, ...this.sentinels].map((p) => p.describe()));
        throw new Error(`sentinel set-up not ready within ${timeoutMs} ms\n${parts.join('\n')}`);
      }
      await sleep(100);
    }
  }

  async switchover(timeoutMs = 30_000): Promise<{ from: number; to: number }> {
    const from = await this.masterPort();
    // After a failover the sentinels re-point the other replicas; switch only once they follow.
    await this.waitReady(timeoutMs, from);
    const s = this.sentinels.find((p) => p.running)!;
    // The sentinel may still be closing the last failover (INPROG) or not yet rate a replica
    // good enough (NOGOODSLAVE): ask again for a while.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await ask(s.port, this.sentinelPassword,
        (c) => (c.call('SENTINEL', 'failover', this.name) as Promise<string>).catch((err: Error) => err.message));
      if (answer === 'OK') break;
      if (!/INPROG|NOGOODSLAVE/.test(String(answer)) || Date.now() > deadline) {
        throw new Error(`SENTINEL FAILOVER ${this.name} answered ${String(answer)}`);
      }
      await sleep(200);
    }
    return { from, to: await this.waitForNewMaster(from, timeoutMs) };
  }

  async masterPort(): Promise<number> {
    for (const s of this.sentinels) {
      if (!s.running) continue;
      const addr = await ask(s.port, this.sentinelPassword, (c) => c.call('SENTINEL', 'get-master-addr-by-name', this.name) as Promise<string[] | null>);
      if (addr?.[1]) return Number(addr[1]);
    }
    throw new Error('no sentinel answers with a master');
  }

  async killMaster(): Promise<number> {
    const port = await this.masterPort();
    const part = this.servers.find((p) => p.port === port);
    if (!part) throw new Error(`the sentinels name port ${port}, which is none of ours`);
    await part.stop('SIGKILL');
    return port;
  }

  async waitForNewMaster(oldPort: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const port = await this.masterPort().catch(() => oldPort);
      if (port !== oldPort) {
        const role = await ask(port, this.password, async (c) => /role:master/.test(await c.info('replication')));
        if (role) return port;
      }
      if (Date.now() > deadline) throw new Error(`no new master within ${timeoutMs} ms (old: ${oldPort})`);
      await sleep(100);
    }
  }

  client(db = 0): Redis {
    const c = new Redis({
      sentinels: this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name: this.name, password: this.password, sentinelPassword: this.sentinelPassword, db,
      retryStrategy: (times: number) => Math.min(times * 100, 500),
      failoverDetector: true,
    });
    c.on('error', () => {});
    this.clients.add(c);
    c.once('end', () => this.clients.delete(c));
    return c;
  }

  async replicated(client: Redis): Promise<void> {
    const acked = Number(await client.call('WAIT', '1', '5000'));
    if (acked < 1) throw new Error('the replica did not acknowledge the writes within 5 s');
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    this.clients.clear();
    // Sentinels first, so none starts a failover while the servers stop.
    for (const p of [...this.sentinels, ...this.servers]) await p.stop();
    await this.tmp.cleanup();
  }
}

/**
 * Start master + replica + 3 sentinels on free loopback ports and wait until the replica is in
 * sync and every sentinel knows the master, the replica and its two peers.
 */
export async function startSentinels(opts: StartSentinelsOptions = {}): Promise<SentinelSetupHandle> {
  const example = await readFile(SENTINEL_EXAMPLE, 'utf8');
  const name = /^sentinel monitor\s+(\S+)/m.exec(example)?.[1];
  if (!name) throw new Error(`${SENTINEL_EXAMPLE} has no "sentinel monitor NAME ..." line`);
  const setup = new SentinelSetup(name, await makeTempDir('pysftpproxy-sentinel-'));
  try {
    await setup.init({ replicas: opts.replicas ?? 1, downAfterMs: opts.downAfterMs ?? 1000, failoverTimeoutMs: opts.failoverTimeoutMs ?? 5000,
      timeoutMs: opts.timeoutMs ?? 20_000 });
  } catch (err) {
    await setup.close();
    throw err;
  }
  return setup;
}
