/**
 * The two places a user's permissions are enforced, built of real parts for the policy tests:
 * - proxy mode: redis-server holding the routes (with their `permissions` field), the proxy, and one
 *   OpenSSH sshd upstream per user, serving that user's own directory, its internal-sftp logging
 *   every request it carries out (`-l INFO`) to the sshd log, so a test can tell what reached it;
 * - local mode: the product serving each user's folder, users from a users file or from the solt
 *   schema in Redis.
 * Both give a user's files on the real disk (`dir`) and the product's log lines.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fingerprintOfBlob, generateKey, makeTempDir, parsePublicLine, productHostKeyLine, productKnownHosts, startProxy, startRedis, startSshd,
  type GeneratedKey, type LogLine, type ProxyHandle, type RedisHandle, type SshdHandle, type TempDir,
} from '../harness/index.js';

export type Mode = 'proxy' | 'local';

export interface UserSpec {
  /** The store's `permissions` field; undefined: not set (the server's --permissions). */
  permissions?: string;
  /** Proxy mode: the route's `home`, relative to the user's upstream directory (absolute upstream path made of it). */
  home?: string;
  /** Proxy mode: route to this upstream (e.g. a fake SFTP server of the test's) instead of an sshd of its own. */
  upstream?: { port: number; hostKeyFingerprint: string };
  /**
   * Proxy mode: the upstream's sftp-server runs as `nobody` (sshd logs in as root, and a fuzz test
   * that sends `/etc/passwd` must not be able to harm the machine if a request got through).
   */
  unprivileged?: boolean;
}

export interface PolicyUser {
  name: string;
  key: GeneratedKey;
  /** The user's files on the real disk: the upstream's directory, or the local folder. */
  dir: string;
  /** Proxy mode: the user's own upstream sshd (its log shows the requests internal-sftp carried out). */
  sshd?: SshdHandle;
  /** Proxy mode: what the upstream's sftp-server logged (`-l DEBUG3`: a `request N: NAME` line for each request it carried out). */
  requests?: () => Promise<string>;
}

/** OpenSSH's sftp-server, run by the upstreams (see startTarget). */
export const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

export interface PolicyTarget {
  readonly mode: Mode;
  readonly port: number;
  readonly proxy: ProxyHandle;
  readonly knownHostsPath: string;
  readonly hostKeyLine: string;
  readonly hostKeyFingerprint: string;
  readonly tmp: string;
  readonly redis: RedisHandle | undefined;
  user(name: string): PolicyUser;
  /** Index of the next log line. */
  mark(): number;
  logs(since?: number): LogLine[];
  waitFor(predicate: (l: LogLine) => boolean, since?: number, timeoutMs?: number): Promise<LogLine>;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** Local mode: where users come from (default 'file'). */
  store?: 'file' | 'solt';
  /** Extra command-line arguments for the product. */
  args?: string[];
  /** Extra environment for the product. */
  env?: Record<string, string | undefined>;
  /** Start a redis-server even when the store does not need one (for --audit-stream). */
  redis?: boolean;
}

/** The audit lines (msg "audit") logged at or after `since`. */
export function auditLines(t: PolicyTarget, since = 0): LogLine[] {
  return t.logs(since).filter((l) => l.msg === 'audit');
}

const REDIS_DB = 1;

export async function startTarget(mode: Mode, users: Record<string, UserSpec>, o: TargetOptions = {}): Promise<PolicyTarget> {
  const tmp: TempDir = await makeTempDir(`pysftpproxy-policy-${mode}-`);
  const stops: Array<() => Promise<unknown>> = [async () => tmp.cleanup()];
  const closeAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const keysDir = join(tmp.path, 'keys');
    const dataDir = join(tmp.path, 'data');
    await mkdir(keysDir);
    await mkdir(dataDir);
    const byName = new Map<string, PolicyUser>();
    let redis: RedisHandle | undefined;
    const needsRedis = mode === 'proxy' || o.store === 'solt' || o.redis === true;
    if (needsRedis) {
      redis = await startRedis();
      const r = redis;
      stops.push(() => r.close());
    }
    let args: string[];
    if (mode === 'proxy') {
      const upstreamKey = await generateKey(keysDir, 'ed25519', 'proxy_upstream');
      const db = redis!.client(REDIS_DB);
      for (const [name, spec] of Object.entries(users)) {
        if (spec.upstream) {
          const key = await generateKey(keysDir, 'ed25519', `client_${name}`);
          const route: Record<string, string> = { remote: '127.0.0.1', port: String(spec.upstream.port), user: 'root', hostkey: spec.upstream.hostKeyFingerprint };
          if (spec.permissions !== undefined) route['permissions'] = spec.permissions;
          await db.multi().set(`pysftpproxy:pubkey:${key.blobBase64}`, name).del(`pysftpproxy:user:${name}`).hset(`pysftpproxy:user:${name}`, route).exec();
          byName.set(name, { name, key, dir: '' });
          continue;
        }
        const dir = join(tmp.path, 'upstream', name);
        await mkdir(dir, { recursive: true });
        // OpenSSH's sftp-server, not internal-sftp: internal-sftp cannot log to a file (sshd closes the
        // log's descriptor before the session starts); sftp-server -e logs every request it carries out.
        const requestLog = join(tmp.path, `sftp-server-${name}.log`);
        const wrapper = join(tmp.path, `sftp-server-${name}.sh`);
        const asNobody = spec.unprivileged ? 'setpriv --reuid=nobody --regid=nogroup --clear-groups ' : '';
        if (spec.unprivileged) {
          for (const d of [tmp.path, join(tmp.path, 'upstream')]) await chmod(d, 0o755);
          await chmod(dir, 0o777);
        }
        await writeFile(wrapper, `#!/bin/sh\nexec ${asNobody}${SFTP_SERVER} -e -l DEBUG3 -d '${dir}' 2>>'${requestLog}'\n`, { mode: 0o755 });
        const sshd = await startSshd({ authorizedKeys: [upstreamKey.publicLine], extraConfig: [`ForceCommand ${wrapper}`] });
        stops.push(() => sshd.close());
        const key = await generateKey(keysDir, 'ed25519', `client_${name}`);
        const route: Record<string, string> = { remote: '127.0.0.1', port: String(sshd.port), user: 'root', hostkey: sshd.hostKeyFingerprint };
        if (spec.permissions !== undefined) route['permissions'] = spec.permissions;
        if (spec.home !== undefined) {
          await mkdir(join(dir, spec.home), { recursive: true });
          route['home'] = join(dir, spec.home);
        }
        await db.multi().set(`pysftpproxy:pubkey:${key.blobBase64}`, name).del(`pysftpproxy:user:${name}`).hset(`pysftpproxy:user:${name}`, route).exec();
        byName.set(name, { name, key, dir: spec.home !== undefined ? join(dir, spec.home) : dir, sshd,
          requests: () => readFile(requestLog, 'utf8').catch(() => '') });
      }
      args = ['--mode', 'proxy', '--redis-port', String(redis!.port), '--redis-db', String(REDIS_DB), '--client-key-path', upstreamKey.privatePath];
    } else {
      const files = join(tmp.path, 'files');
      const entries: Record<string, unknown> = {};
      const db = o.store === 'solt' ? redis!.client(REDIS_DB) : undefined;
      let id = 1;
      for (const [name, spec] of Object.entries(users)) {
        const dir = join(files, name);
        await mkdir(dir, { recursive: true });
        const key = await generateKey(keysDir, 'ed25519', `client_${name}`);
        byName.set(name, { name, key, dir });
        if (db) {
          const fields: Record<string, string> = { name, folder: name, active: 'true' };
          if (spec.permissions !== undefined) fields['permissions'] = spec.permissions;
          await db.multi().sadd('solt.sftp.users', String(id)).hset(`solt.sftp.user.${id}`, fields).sadd(`solt.sftp.user.${id}.keys`, key.blobBase64).exec();
          id++;
        } else {
          entries[name] = { keys: [key.publicLine], folder: name, ...(spec.permissions !== undefined ? { permissions: spec.permissions } : {}) };
        }
      }
      args = ['--mode', 'local', '--sftp-path', files];
      if (db) args.push('--redis-port', String(redis!.port), '--redis-db', String(REDIS_DB));
      else {
        const usersFile = join(tmp.path, 'users.json');
        await writeFile(usersFile, JSON.stringify({ users: entries }));
        args.push('--store', `file:${usersFile}`);
        if (redis) args.push('--redis-port', String(redis.port), '--redis-db', String(REDIS_DB));
      }
    }
    const proxy = await startProxy({
      args: [...args, '--port', '0', '--listen', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info', ...(o.args ?? [])],
      env: o.env, cwd: tmp.path,
    });
    stops.push(() => proxy.stop());
    const hostKeyLine = await productHostKeyLine(dataDir);
    const knownHostsPath = await productKnownHosts(tmp.path, dataDir, proxy.port);
    return {
      mode, proxy, knownHostsPath, hostKeyLine, redis, tmp: tmp.path,
      port: proxy.port,
      hostKeyFingerprint: fingerprintOfBlob(parsePublicLine(hostKeyLine).blobBase64),
      user(name: string): PolicyUser {
        const u = byName.get(name);
        if (!u) throw new Error(`no user ${name}`);
        return u;
      },
      mark: () => proxy.logs().length,
      logs: (since = 0) => proxy.logs().slice(since),
      waitFor: (predicate, since = 0, timeoutMs = 10_000) => proxy.waitForLog(predicate, timeoutMs, since),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
