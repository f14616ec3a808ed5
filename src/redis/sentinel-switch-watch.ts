// Follows a planned Sentinel switchover at once. When the master is lost, our connections drop
// and find the new master through the sentinels by themselves; but a master demoted while still
// up (SENTINEL FAILOVER, a maintenance switch) keeps them, answering reads for several seconds
// before the sentinels turn it into a replica, and taking writes that are then lost. So we
// listen to every sentinel's +switch-master and send each connection that is not on the named
// master back to the sentinels. Unlike ioredis's failoverDetector, a connection already on the
// new master is left alone: every sentinel announces the same switch in turn, and each
// announcement must not become another outage.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/options.js';

export type SentinelSettings = Pick<Config, 'redisSentinels' | 'redisSentinelName' | 'redisSentinelPassword'>;

export interface SwitchWatch {
  /** Follow switches on `client` too (until it ends). */
  track(client: Redis): void;
  close(): void;
}

/** `<name> <old-ip> <old-port> <new-ip> <new-port>`: the new address, or undefined for another group. */
export function switchedTo(message: string, name: string): string | undefined {
  const parts = message.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] !== name || !/^\d{1,5}$/.test(parts[4]!)) return undefined;
  return `${parts[3]}:${parts[4]}`;
}

/** host:port of the server `client` is connected to right now, if it is. */
function connectedTo(client: Redis): string | undefined {
  const s = client.stream;
  return client.status === 'ready' && s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : undefined;
}

export function watchSwitches(s: SentinelSettings, log: Logger): SwitchWatch {
  // Per connection, the last announced master we sent it to: once per switch, even if the
  // sentinels name it differently from the address we reached (a host name, a NAT).
  const clients = new Map<Redis, string | undefined>();
  const watchers = s.redisSentinels!.map(({ host, port }) => {
    const w = new Redis({ host, port, password: s.redisSentinelPassword, enableOfflineQueue: true, maxRetriesPerRequest: null,
      connectTimeout: 2000, retryStrategy: (times: number) => Math.min(200 * times, 2000) });
    // A sentinel that is down is the sentinels' business (and the main connection's outage log).
    w.on('error', (err: Error) => log.debug({ sentinel: `${host}:${port}`, err: err.message }, 'sentinel watch error'));
    w.subscribe('+switch-master').catch((err: Error) => log.debug({ sentinel: `${host}:${port}`, err: err.message }, 'sentinel watch: cannot subscribe'));
    w.on('message', (_channel: string, message: string) => {
      const to = switchedTo(message, s.redisSentinelName!);
      if (!to) return;
      let from: string | undefined;
      let moved = 0;
      for (const [c, followed] of clients) {
        const now = connectedTo(c);
        if (now === undefined || now === to || followed === to) continue; // reconnecting anyway, or already there
        clients.set(c, to);
        from = now;
        moved++;
        c.disconnect(true);
      }
      // One line per switch, however many connections (main, subscriber) follow it.
      if (moved > 0) log.info({ from, to, connections: moved }, 'redis master switched by the sentinels: reconnecting');
    });
    return w;
  });
  return {
    track(client) {
      clients.set(client, undefined);
      client.once('end', () => clients.delete(client));
    },
    close() {
      for (const w of watchers) w.disconnect();
      clients.clear();
    },
  };
}
