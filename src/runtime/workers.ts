// --workers N: N processes share the listening port (node:cluster hands connections round-robin),
// so throughput scales past one event loop. The primary only supervises: it makes sure a
// generated host key exists before forking (workers must not race to create it, nor each make
// their own), restarts a worker that dies, and passes shutdown and log-reopen signals on.
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config/options.js';
import { loadHostKey } from '../keys/host-key.js';

export function runPrimary(config: Config, log: Logger): void {
  const hostKey = loadHostKey(config);
  const env = { SFTPPROXY_PRIVATEKEY_PATH: hostKey.path, PYSFTPPROXY_WORKER: '' };
  let stopping = false;
  const restarts = new Map<number, number>(); // worker number -> last restart delay
  const fork = (n: number) => {
    const worker = cluster.fork({ ...env, PYSFTPPROXY_WORKER: String(n) });
    const startedAt = Date.now();
    worker.on('exit', (code, signal) => {
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

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    const force = setTimeout(() => process.exit(0), 6000);
    force.unref();
    cluster.on('exit', () => { if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Each worker writes the --logfile itself, so each must reopen it after logrotate.
  process.on('SIGHUP', () => { for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP'); });
}

/** This process's worker number, or undefined outside --workers. */
export function workerNumber(): number | undefined {
  return cluster.isWorker ? Number(process.env['PYSFTPPROXY_WORKER']) : undefined;
}
