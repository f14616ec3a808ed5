// One serving process (alone, or a --workers worker): start, drop privileges, then live by the
// signals: SIGTERM/SIGINT drain (stop accepting, let transfers finish for --drain-timeout, exit
// 0); SIGHUP takes a new configuration (and the logger reopens --logfile, see logger.ts); one that
// came during the start is taken once it serves (sighup.ts).
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config/options.js';
import { start, type Running } from '../main.js';
import { dropPrivileges } from './drop-privileges.js';
import { writePidfile } from './pidfile.js';
import { reloadConfig } from './reload.js';
import { onSighup, sighupReady } from './sighup.js';

/** Message a worker sends its primary when its readiness changes (the primary's /readyz). */
export const READY_TAG = 'pysftpproxy:ready';
export interface ReadyMessage { tag: typeof READY_TAG; notReady: string | null; port: number }

export async function serve(argv: readonly string[], config: Config, log: Logger): Promise<void> {
  const worker = cluster.isWorker;
  let removePidfile = (): void => {};
  const running: Running = await start(config, log, {
    worker,
    // The port is bound: switch user, then write the pid file as that user (it removes it at exit).
    beforeListening: () => {
      const dropped = dropPrivileges(config.userid, config.groupid);
      if (dropped) log.info(dropped, 'privileges dropped');
      // Under --workers the primary owns the pidfile.
      if (config.pidfile && !worker) removePidfile = writePidfile(config.pidfile);
    },
  });
  if (worker) reportReadiness(running);

  let current = config;
  onSighup(() => {
    const r = reloadConfig(argv, current);
    if (!r.ok) return void log.error({ problem: r.error }, 'configuration not reloaded: keeping the running one');
    let applied: { hostKey?: string };
    try {
      applied = running.apply(r.config);
    } catch (err) {
      return void log.error({ problem: (err as Error).message }, 'configuration not reloaded: keeping the running one');
    }
    current = r.config;
    // The line is logged at the more verbose of the two levels: a level raised to warn must not
    // hide the line that says so, nor one lowered from warn the line that says that.
    const level = current.logLevel;
    if (log.levels.values[level]! <= log.levels.values[log.level]!) log.level = level;
    log.info({ changed: [...r.changed, ...(applied.hostKey ? ['host key'] : [])], hostKey: applied.hostKey,
      needsRestart: r.needsRestart.length ? r.needsRestart : undefined },
    r.needsRestart.length ? 'configuration reloaded; the options in needsRestart take effect at the next start' : 'configuration reloaded');
    log.level = level;
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainTimeoutSeconds: current.drainTimeout }, 'shutting down');
    // The drain has its own deadline; this one only guards against a teardown that hangs.
    const force = setTimeout(() => { removePidfile(); process.exit(0); }, (current.drainTimeout + 10) * 1000);
    force.unref();
    running.drain(current.drainTimeout * 1000).catch((err: unknown) => log.error({ err }, 'drain failed'))
      .finally(() => { log.info('stopped'); removePidfile(); process.exit(0); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  sighupReady(); // a SIGHUP held during the start is a reload now
}

function reportReadiness(running: Running): void {
  let last: string | null | undefined;
  const send = (): void => {
    const notReady = running.notReady() ?? null;
    if (notReady === last || !process.connected) return;
    last = notReady;
    process.send?.({ tag: READY_TAG, notReady, port: running.port } satisfies ReadyMessage);
  };
  send();
  setInterval(send, 500).unref();
}
