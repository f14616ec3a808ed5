/**
 * Product instances as a scaled-out deployment runs them: local mode, users in Redis (solt schema),
 * one host key file shared by every instance, each with its admin endpoint on a port of its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addUser } from '../stores/solt-setup.js';
import { generateKey, startProxy, type GeneratedKey, type ProxyHandle, type RedisHandle } from '../harness/index.js';

export interface Fleet {
  redis: RedisHandle;
  /** The user's key (user `dora`, solt id 1). */
  user: GeneratedKey;
  privateKey: Buffer;
  /** The host key every instance serves. */
  hostKey: GeneratedKey;
  files: string;
  /** Arguments every instance shares. */
  args: string[];
}

export async function fleet(dir: string, redis: RedisHandle): Promise<Fleet> {
  const [user, hostKey] = await Promise.all([generateKey(dir, 'ed25519', 'dora'), generateKey(dir, 'ed25519', 'ssh_host_ed25519_key')]);
  await addUser(redis.client(1), '1', { name: 'dora', folder: 'dora', active: 'true' }, [user.blobBase64]);
  const files = join(dir, 'files');
  const args = ['--mode', 'local', '--store', 'redis-solt', '--redis-port', String(redis.port), '--sftp-path', files,
    '--privatekey-path', hostKey.privatePath, '--listen', '127.0.0.1', '--port', '0', '--admin-listen', '127.0.0.1:0'];
  return { redis, user, privateKey: readFileSync(user.privatePath), hostKey, files, args };
}

export interface Instance {
  proxy: ProxyHandle;
  adminPort: number;
}

/** One instance with `extra` arguments; resolves once it listens and its admin endpoint does. */
export async function startInstance(f: Fleet, extra: string[] = [], env: Record<string, string | undefined> = {}): Promise<Instance> {
  const proxy = await startProxy({ args: [...f.args, ...extra], env });
  const admin = await proxy.waitForLog((l) => l.msg === 'admin endpoint listening' && typeof l['port'] === 'number');
  return { proxy, adminPort: admin['port'] as number };
}

/** GET `path` on an admin endpoint: status and body. */
export async function adminGet(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, body: await res.text() };
}

/** The value of a sample (no labels) in a Prometheus text scrape; undefined if absent. */
export function sample(metricsText: string, name: string): number | undefined {
  const line = metricsText.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
