/** A private redis-server on a free loopback port, owned (and stoppable) by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './ports.js';
import { stopChild, trackChild } from './process-registry.js';
import { makeTempDir, type TempDir } from './tmp.js';

export interface RedisHandle {
  /** Loopback port; stays the same across stop()/start()/restart(). */
  readonly port: number;
  /** PID of the current redis-server process (the last one, if stopped). */
  readonly pid: number;
  /** `redis://127.0.0.1:<port>` (append `/<db>` for another database). */
  readonly url: string;
  /** Working directory (--dir) of the server. */
  readonly dir: string;
  readonly logPath: string;
  /** True while the server process is running. */
  readonly running: boolean;
  /**
   * A new ioredis client on database `db` (default 0). Clients are tracked and
   * disconnected by close(); they keep reconnecting across stop()/start().
   * A no-op 'error' listener is attached so outages do not spam the console.
   */
  client(db?: number, options?: RedisOptions): Redis;
  /** Stop the server (SIGTERM, SIGKILL after 5 s). Data is lost (no persistence). */
  stop(): Promise<void>;
  /** Kill the server with SIGKILL (crash simulation). */
  kill(): Promise<void>;
  /** Start the server again on the same port (after stop()/kill()). */
  start(): Promise<void>;
  /** stop() then start() on the same port. */
  restart(): Promise<void>;
  /** Disconnect tracked clients, stop the server and remove its directory. */
  close(): Promise<void>;
}

export interface StartRedisOptions {
  /** Port to use; default: a free port (retried on EADDRINUSE). */
  port?: number;
  /** Extra redis-server arguments, e.g. ['--requirepass', 'x']. */
  extraArgs?: string[];
  /** Readiness timeout (default 10 s). */
  timeoutMs?: number;
}

/** Send PING over a raw socket; resolve true on `+PONG`. */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

class RedisServer implements RedisHandle {
  private child: ChildProcess | undefined;
  private lastPid = 0;
  private readonly clients = new Set<Redis>();

  constructor(
    public readonly port: number,
    private readonly tmp: TempDir,
    private readonly extraArgs: string[],
    private readonly timeoutMs: number,
  ) {}

  get pid(): number {
    return this.lastPid;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  get dir(): string {
    return this.tmp.path;
  }
  get logPath(): string {
    return join(this.tmp.path, 'redis.log');
  }
  get running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`redis already running (pid ${this.lastPid})`);
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--dir', this.tmp.path,
      '--logfile', this.logPath,
      ...this.extraArgs,
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    trackChild(child, `redis-server:${this.port}`);
    this.child = child;
    this.lastPid = child.pid ?? 0;

    const deadline = Date.now() + this.timeoutMs;
    let failure: string | undefined;
    for (;;) {
      if (spawnError) {
        failure = `cannot spawn redis-server: ${spawnError.message}`;
        break;
      }
      if (!this.running) {
        failure = `redis-server exited (code ${child.exitCode}, signal ${child.signalCode})`;
        break;
      }
      if (await ping(this.port)) return;
      if (Date.now() > deadline) {
        failure = `redis-server not answering PING after ${this.timeoutMs} ms`;
        await stopChild(child, { graceMs: 1000 });
        break;
      }
      await sleep(25);
    }
    const log = await readFile(this.logPath, 'utf8').catch(() => '');
    throw new Error(`${failure} on port ${this.port}\n${output}\n${log}`);
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, { graceMs: 5000 });
  }

  async kill(): Promise<void> {
    if (this.child) await stopChild(this.child, { signal: 'SIGKILL' });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  client(db = 0, options: RedisOptions = {}): Redis {
    const client = new Redis({ host: '127.0.0.1', port: this.port, db, ...options });
    client.on('error', () => {});
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
    return client;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    this.clients.clear();
    await this.stop();
    await this.tmp.cleanup();
  }
}

/**
 * Start `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no
 * --dir TMP --logfile TMP/redis.log` as a foreground child (so we own its PID)
 * and wait until it answers PING. If the chosen free port was grabbed in the
 * meantime, retries with another port (up to 5 times).
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const attempts = opts.port === undefined ? 5 : 1;
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = opts.port ?? (await freePort());
    const tmp = await makeTempDir('pysftpproxy-redis-');
    const server = new RedisServer(port, tmp, opts.extraArgs ?? [], opts.timeoutMs ?? 10_000);
    try {
      await server.start();
      return server;
    } catch (err) {
      lastErr = err;
      await tmp.cleanup();
      if (!/address already in use/i.test(String(err))) break;
    }
  }
  throw lastErr;
}
