// Wires the parts for one configuration: listener -> auth (user store) -> backend, plus what
// runs beside them (metrics, shared limits, the defender, the admin endpoint), and how a running
// server drains and takes a new configuration.
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Config } from './config/options.js';
import { createStore } from './auth/create-store.js';
import type { Backend } from './server/backend.js';
import { SshServer, type ServerSettings } from './server/ssh-server.js';
import { loadHostKey } from './keys/host-key.js';
import { loadClientKey } from './keys/client-key.js';
import { AddressList } from './net/address-list.js';
import { AdminServer } from './ops/admin-server.js';
import { createSharedState } from './ops/create-shared-state.js';
import { Defender, type DefenderSettings } from './ops/defender.js';
import { Metrics } from './ops/metrics.js';
import { FanOutSink, LogAuditSink } from './audit/log-audit-sink.js';
import { RedisStreamSink } from './audit/redis-stream-sink.js';
import { parsePermissions } from './policy/permissions.js';
import { createRedis, redisAddress, redisIsUp } from './redis/redis-connection.js';
import { HostKeyVerifier } from './proxy/host-key-verifier.js';
import { UpstreamBackend } from './proxy/upstream-backend.js';
import { LocalBackend } from './local/local-backend.js';
import { processHandleBudgetTotal } from './local/handle-budget.js';
import { nativeCryptoAvailable } from './runtime/native-crypto.js';
import { unpatchedSsh2Files } from './runtime/ssh2-patch.js';

export interface Running {
  port: number;
  /** Port of the admin endpoint, when this process serves one. */
  adminPort: number | undefined;
  /** Why this process does not accept logins right now (undefined: it does). */
  notReady(): string | undefined;
  metrics: Metrics;
  /** Stop accepting, let sessions go on for up to `timeoutMs`, then close them and everything else. */
  drain(timeoutMs: number): Promise<void>;
  /**
   * Apply the live options of `config` (see the option table's `live`) and its host key, all or
   * nothing: throws, having changed nothing, if any of them cannot be used. The log level is the
   * caller's to set (after it logged the reload). Says whether the host key changed.
   */
  apply(config: Config): { hostKey?: string };
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A --workers worker: the primary serves the admin endpoint and holds shared state without Redis. */
  worker: boolean;
  /** Runs once everything listens, before the 'listening' line; what it throws fails the start. */
  beforeListening?: () => void;
}

export async function start(config: Config, log: Logger, opts: StartOptions = { worker: false }): Promise<Running> {
  const hostKey = loadHostKey(config);
  log.info({ fingerprint: hostKey.fingerprint, type: hostKey.type, path: hostKey.path, generated: hostKey.generated || undefined },
    hostKey.generated ? 'host key generated' : 'host key loaded');
  if (!nativeCryptoAvailable()) {
    log.warn('ssh2 native crypto binding missing: encryption runs in JavaScript at about half the speed; ' +
      'reinstall with a C++ toolchain (g++, make, python3) and without --ignore-scripts');
  }

  const unpatched = unpatchedSsh2Files();
  if (unpatched.length > 0) {
    log.warn({ files: unpatched }, 'ssh2 is not patched (installed with --ignore-scripts, or upgraded past patches/): ' +
      'RSA logins with rsa-sha2-512 fail, the proxy costs more CPU, and a client ignoring SSH flow control is not cut off; reinstall with npm ci');
  }

  const storeUsesRedis = config.store.startsWith('redis');
  const usesRedis = storeUsesRedis || (config.mode === 'proxy' && config.upstreamHostkeys === 'tofu') || config.auditStream !== undefined;
  const whileDown = config.store === 'redis-solt' ? 'serving the last known users until it is back'
    : 'logins are refused until it is back';
  const redis: Redis | undefined = usesRedis ? createRedis(config, log, whileDown) : undefined;
  if (redis) {
    log.info({ redis: redisAddress(config) }, 'using redis');
    await firstConnect(redis, 3000); // not required: a Redis down at start is an outage like any other
  }
  const metrics = new Metrics();
  const store = await createStore(config, log, redis);
  const backend = createBackend(config, log, redis, metrics);
  await store.start();

  const shared = createSharedState(storeUsesRedis ? redis : undefined, opts.worker, log);
  const defender = new Defender(defenderSettings(config), shared.scores, shared.bans, log, metrics);
  const logSink = new LogAuditSink(log);
  const audit = config.auditStream && redis
    ? new FanOutSink([logSink, new RedisStreamSink(redis, config.auditStream, config.auditStreamMaxlen, log)]) : logSink;
  const server = new SshServer({
    inspect: config.mode === 'local' || config.sftpFilter === 'on', audit,
    hostKey, store, backend, log, metrics, counters: shared.counters, defender,
    settings: serverSettings(config), ciphers: config.ciphers, kex: config.kex,
  });
  const address = await server.listen(config.port, config.listen);

  let draining = false;
  const storeUp = (): boolean => !storeUsesRedis || (redis !== undefined && redisIsUp(redis));
  const notReady = (): string | undefined => {
    if (draining) return 'draining: not accepting new connections';
    if (!server.isListening) return 'not listening';
    if (!storeUp()) return `user store unavailable (redis ${redisAddress(config)})`;
    return undefined;
  };
  const gauges = setInterval(() => {
    metrics.setStoreUp(storeUp());
    metrics.setReady(notReady() === undefined);
  }, 1000);
  gauges.unref();
  metrics.setStoreUp(storeUp());
  metrics.setReady(notReady() === undefined);

  let admin: AdminServer | undefined;
  let adminPort: number | undefined;
  if (config.adminListen && !opts.worker) {
    admin = new AdminServer({
      metrics: async () => ({ contentType: metrics.registry.contentType, text: await metrics.text() }),
      notReady,
      unhealthy: () => undefined,
      bans: shared.bans,
    }, log);
    const a = await listenAdmin(admin, config);
    adminPort = a.port;
    log.info({ address: a.address, port: a.port }, 'admin endpoint listening');
  }

  // 'listening' is the last line of the start: whoever waits for it (a service manager's log
  // watch, the tests) finds the admin endpoint up and, under serve(), privileges dropped and the
  // pid file written.
  opts.beforeListening?.();
  log.info({ port: address.port, address: address.address, mode: config.mode, store: store.kind, sharedState: shared.kind }, 'listening');

  const closeRest = async (): Promise<void> => {
    clearInterval(gauges);
    await admin?.close();
    await backend.close();
    await store.close();
    shared.close();
    redis?.disconnect();
  };

  return {
    port: address.port,
    adminPort,
    notReady,
    metrics,
    async drain(timeoutMs) {
      draining = true;
      metrics.setReady(false);
      log.info({ drainTimeoutSeconds: timeoutMs / 1000 }, 'draining: accepting stopped, live sessions go on');
      await server.drain(timeoutMs);
      await closeRest();
    },
    apply(next) {
      // Everything that can fail first, so that a bad key or value changes nothing.
      const key = loadHostKey(next);
      const settings = serverSettings(next);
      const defence = defenderSettings(next);
      server.setSettings(settings);
      defender.setSettings(defence);
      return server.setHostKey(key) ? { hostKey: key.fingerprint } : {};
    },
    async stop() {
      await server.close();
      await closeRest();
    },
  };
}

function firstConnect(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
}

async function listenAdmin(admin: AdminServer, config: Config): Promise<{ address: string; port: number }> {
  const { host, port } = config.adminListen!;
  try {
    return await admin.listen(host, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw Object.assign(new Error(`--admin-listen ${host}:${port}: cannot listen (${code})`), { code: 'ADMIN_LISTEN' });
  }
}

export function serverSettings(c: Config): ServerSettings {
  const perms = parsePermissions(c.permissions);
  if (!perms.ok) throw new Error(`--permissions: ${perms.word} ${perms.problem}`); // checked by loadConfig already
  return {
    loginGraceTime: c.loginGraceTime, maxAuthTries: c.maxAuthTries, maxStartups: c.maxStartups,
    maxConnectionsPerIp: c.maxConnectionsPerIp, maxConnections: c.maxConnections, maxSessionsPerUser: c.maxSessionsPerUser,
    idleTimeout: c.idleTimeout, proxyProtocolFrom: AddressList.parse(c.proxyProtocolFrom), defaultPermissions: perms.permissions,
  };
}

export function defenderSettings(c: Config): DefenderSettings {
  return {
    enabled: c.defender === 'on', windowSeconds: c.defenderWindow, threshold: c.defenderThreshold, banSeconds: c.defenderBanTime,
    // A balancer's own connections (health checks: PROXY v2 LOCAL) never log in; banning it would
    // take the instance out of its pool. The clients it speaks for are scored by their addresses.
    allow: AddressList.parse([...c.defenderAllow, ...c.proxyProtocolFrom]),
  };
}

function createBackend(config: Config, log: Logger, redis: Redis | undefined, metrics: Metrics): Backend {
  if (config.mode === 'local') return createLocalBackend(config, log);
  if (config.upstreamHostkeys === 'off') log.warn('upstream host keys are not checked (--upstream-hostkeys off): a man in the middle would go unnoticed');
  const clientKey = loadClientKey(config.clientKeyPath);
  log.info({ fingerprint: clientKey.fingerprint, path: clientKey.path }, 'upstream client key loaded');
  const verifier = new HostKeyVerifier(config.upstreamHostkeys, redis, config.knownHosts);
  return new UpstreamBackend({ clientKey, verifier, connectTimeout: config.connectTimeout, observer: metrics });
}

function createLocalBackend(config: Config, log: Logger): LocalBackend {
  let total: number;
  try {
    total = processHandleBudgetTotal();
  } catch (err) {
    total = 768; // as if the limit were Linux's usual 1024
    log.warn({ err: (err as Error).message, total }, 'cannot read the open-files limit from /proc/self/limits');
  }
  log.info({ perSession: config.maxHandles, perUser: config.maxHandlesPerUser, total }, 'local mode handle caps');
  return new LocalBackend({ maxHandles: config.maxHandles, maxHandlesPerUser: config.maxHandlesPerUser, maxHandlesTotal: total });
}
