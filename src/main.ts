// Wires the parts for one configuration: listener -> auth (user store) -> backend.
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Config } from './config/options.js';
import { createStore, storeName } from './auth/create-store.js';
import type { Backend } from './server/backend.js';
import { SshServer } from './server/ssh-server.js';
import { loadHostKey } from './keys/host-key.js';
import { loadClientKey } from './keys/client-key.js';
import { createRedis, redisAddress } from './redis/redis-connection.js';
import { HostKeyVerifier } from './proxy/host-key-verifier.js';
import { UpstreamBackend } from './proxy/upstream-backend.js';
import { LocalBackend } from './local/local-backend.js';
import { processHandleBudgetTotal } from './local/handle-budget.js';
import { nativeCryptoAvailable } from './runtime/native-crypto.js';
import { unpatchedSsh2Files } from './runtime/ssh2-patch.js';

export interface Running {
  port: number;
  stop(): Promise<void>;
}

export async function start(config: Config, log: Logger): Promise<Running> {
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
      'RSA logins with rsa-sha2-512 fail and the proxy costs more CPU; reinstall with npm ci');
  }

  const usesRedis = storeName(config).startsWith('redis') || (config.mode === 'proxy' && config.upstreamHostkeys === 'tofu');
  const whileDown = storeName(config) === 'redis-solt' ? 'serving the last known users until it is back'
    : 'logins are refused until it is back';
  const redis: Redis | undefined = usesRedis ? createRedis(config, log, whileDown) : undefined;
  if (redis) log.info({ redis: redisAddress(config) }, 'using redis');
  const store = await createStore(config, log, redis);
  const backend = createBackend(config, log, redis);
  await store.start();

  const server = new SshServer({ hostKey, store, backend, log, loginGraceTime: config.loginGraceTime, ciphers: config.ciphers });
  const address = await server.listen(config.port, config.listen);
  log.info({ port: address.port, address: address.address, mode: config.mode, store: store.kind }, 'listening');

  return {
    port: address.port,
    async stop() {
      await server.close();
      await backend.close();
      await store.close();
      redis?.disconnect();
    },
  };
}

function createBackend(config: Config, log: Logger, redis: Redis | undefined): Backend {
  if (config.mode === 'local') return createLocalBackend(config, log);
  if (config.upstreamHostkeys === 'off') log.warn('upstream host keys are not checked (--upstream-hostkeys off): a man in the middle would go unnoticed');
  const clientKey = loadClientKey(config.clientKeyPath);
  log.info({ fingerprint: clientKey.fingerprint, path: clientKey.path }, 'upstream client key loaded');
  const verifier = new HostKeyVerifier(config.upstreamHostkeys, redis, config.knownHosts);
  return new UpstreamBackend({ clientKey, verifier, connectTimeout: config.connectTimeout });
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
