// --workers N: N processes share the listening port (node:cluster hands connections round-robin),
// so throughput scales past one event loop. The primary serves no SSH itself. It
// - makes sure a generated host key exists before forking (workers must not race to create it,
//   nor each make their own),
// - holds the limits' and the defender's shared state when the store does not use Redis,
// - serves the admin endpoint for the whole group (metrics of every worker summed, readiness),
// - restarts a worker that dies, with a backoff,
// - passes signals on: SIGTERM/SIGINT drain the whole group, SIGHUP makes each worker reload.
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import client from 'prom-client';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { Config } from '../config/options.js';
import { loadHostKey } from '../keys/host-key.js';
import { AdminServer } from '../ops/admin-server.js';
import { servePrimaryState } from '../ops/cluster-state.js';
import { RedisBans } from '../ops/redis-state.js';
import type { BanStore } from '../ops/shared-state.js';
import { createRedis } from '../redis/redis-connection.js';
import { reloadConfig } from './reload.js';
import { onSighup, sighupReady } from './sighup.js';
import { READY_TAG, type ReadyMessage } from './serve.js';

export async function runPrimary(argv: readonly string[], config: Config, log: Logger): Promise<void> {
  const hostKey = loadHostKey(config);
  const env = { SFTPPROXY_PRIVATEKEY_PATH: hostKey.path, PYSFTPPROXY_WORKER: '' };
  let stopping = false;
  let current = config;

  // Shared state: Redis when the store uses it (each worker talks to Redis), else here.
  let bans: BanStore;
  let redis: ReturnType<typeof createRedis> | undefined;
  if (config.store.startsWith('redis')) {
    redis = createRedis(config, log, 'ban listing is unavailable until it is back');
    bans = new RedisBans(redis, log);
  } else {
    bans = servePrimaryState().bans;
    new RateLimiterClusterMaster(); // answers the workers' defender score counters
  }

  const readiness = new Map<number, string | null>(); // worker number -> why not ready (null: ready)
  // A worker reports its readiness once it serves, and then surely handles SIGHUP; one signalled
  // earlier, still booting, would be ended by it. A reload for a worker not yet reporting waits.
  const reloadWhenServing = new Set<number>();
  cluster.on('message', (worker, msg: ReadyMessage) => {
    if (msg?.tag !== READY_TAG) return;
    const n = Number((worker as unknown as { pysftpproxyNumber?: number }).pysftpproxyNumber);
    readiness.set(n, msg.notReady);
    if (reloadWhenServing.delete(n)) worker.process.kill('SIGHUP');
  });

  const restarts = new Map<number, number>(); // worker number -> last restart delay
  const fork = (n: number): void => {
    const worker = cluster.fork({ ...env, PYSFTPPROXY_WORKER: String(n) });
    (worker as unknown as { pysftpproxyNumber: number }).pysftpproxyNumber = n;
    const startedAt = Date.now();
    worker.on('exit', (code, signal) => {
      readiness.delete(n);
      reloadWhenServing.delete(n); // its successor reads the configuration afresh
      if (stopping) return;
      if (code === 2) { // a configuration error (printed by the worker): restarting cannot help
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
        process.exit(2);
      }
      // Back off while a worker keeps dying young (1 s, doubling to 30 s); one that served for
      // a minute starts over at 1 s. The timer is not unref'd: with every worker gone it is
      // what keeps the primary alive to start them again.
      const previous = restarts.get(n);
      const diedYoung = Date.now() - startedAt < 60_000;
      const delayMs = previous !== undefined && diedYoung ? Math.min(previous * 2, 30_000) : 1000;
      restarts.set(n, delayMs);
      log.error({ worker: n, code, signal, restartInMs: delayMs }, 'worker died: starting a new one');
      setTimeout(() => { if (!stopping) fork(n); }, delayMs);
    });
  };
  for (let n = 1; n <= config.workers; n++) fork(n);
  log.info({ workers: config.workers, pid: process.pid }, 'workers started');

  let admin: AdminServer | undefined;
  if (config.adminListen) {
    const aggregator = new client.AggregatorRegistry();
    admin = new AdminServer({
      metrics: async () => ({ contentType: aggregator.contentType, text: await aggregator.clusterMetrics() }),
      notReady: () => {
        if (stopping) return 'draining: not accepting new connections';
        const states = [...readiness.values()];
        if (states.length < current.workers) return `${current.workers - states.length} of ${current.workers} workers not started`;
        return states.find((s) => s !== null) ?? undefined;
      },
      unhealthy: () => (Object.keys(cluster.workers ?? {}).length === 0 ? 'no worker running' : undefined),
      bans,
    }, log);
    const { host, port } = config.adminListen;
    try {
      const a = await admin.listen(host, port);
      log.info({ address: a.address, port: a.port }, 'admin endpoint listening');
    } catch (err) {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      throw Object.assign(new Error(`--admin-listen ${host}:${port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`),
        { code: 'ADMIN_LISTEN' });
    }
  }

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainTimeoutSeconds: current.drainTimeout }, 'shutting down workers (draining)');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    const force = setTimeout(() => process.exit(0), (current.drainTimeout + 15) * 1000);
    force.unref();
    const done = (): void => {
      if (Object.keys(cluster.workers ?? {}).length > 0) return;
      void admin?.close();
      redis?.disconnect();
      log.info('stopped');
      process.exit(0);
    };
    cluster.on('exit', done);
    done();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  onSighup(() => {
    // Each worker writes the --logfile itself and reloads its own configuration.
    for (const w of Object.values(cluster.workers ?? {})) {
      if (!w) continue;
      const n = Number((w as unknown as { pysftpproxyNumber?: number }).pysftpproxyNumber);
      if (readiness.has(n)) w.process.kill('SIGHUP');
      else reloadWhenServing.add(n);
    }
    const r = reloadConfig(argv, current);
    if (r.ok) current = r.config;
  });
  sighupReady();
}

/** This process's worker number, or undefined outside --workers. */
export function workerNumber(): number | undefined {
  return cluster.isWorker ? Number(process.env['PYSFTPPROXY_WORKER']) : undefined;
}
