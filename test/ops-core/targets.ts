/**
 * One product to test against in either mode, with what a client needs: proxy mode (Redis, an
 * OpenSSH sshd upstream, users in Redis) or local mode (a users file and folders). The tests of
 * drain, reload and the idle timeout run the same steps on both.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generateKey, localUsersSetup, makeTempDir, parsePublicLine, productHostKeyLine, startProxy, writeKnownHosts,
  type GeneratedKey, type ProxyHandle, type TempDir,
} from '../harness/index.js';
import { ProxyStack } from '../proxy/stack.js';

export type Mode = 'proxy' | 'local';

export interface Target {
  mode: Mode;
  proxy: ProxyHandle;
  port: number;
  /** Host key blob of the product (for ssh2 clients). */
  hostKey: Buffer;
  /** known_hosts for the OpenSSH client. */
  knownHostsPath: string;
  /** A scratch directory for the client's files. */
  localDir: string;
  /** Where an upload by `user` lands on the real disk (upstream's folder or the user's own). */
  remoteDir(user: string): string;
  key(user: string): GeneratedKey;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** Command-line arguments for the product (both modes). */
  args?: string[];
  /** Environment for the product. */
  env?: Record<string, string | undefined>;
  /** Users to create (default ['ursula']). */
  users?: string[];
  /** Wait for this many 'listening' lines (--workers N: N). */
  listeners?: number;
}

async function waitListeners(proxy: ProxyHandle, n: number): Promise<void> {
  if (n <= 1) return;
  const deadline = Date.now() + 15_000;
  while (proxy.logs().filter((l) => l.msg === 'listening').length < n) {
    if (Date.now() > deadline) throw new Error(`only ${proxy.logs().filter((l) => l.msg === 'listening').length} of ${n} listeners`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startTarget(mode: Mode, opts: TargetOptions = {}): Promise<Target> {
  return mode === 'proxy' ? proxyTarget(opts) : localTarget(opts);
}

async function proxyTarget(opts: TargetOptions): Promise<Target> {
  const stack = await ProxyStack.start({ noProxy: true });
  try {
    const inst = await startProxyWithArgs(stack, opts);
    await waitListeners(inst.handle, opts.listeners ?? 1);
    const keys = new Map<string, GeneratedKey>();
    for (const name of opts.users ?? ['ursula']) {
      const key = await generateKey(join(stack.tmp.path, 'keys'), 'ed25519', `client_${name}`);
      await stack.db.set(`pysftpproxy:pubkey:${key.blobBase64}`, name);
      await stack.db.hset(`pysftpproxy:user:${name}`, stack.routeTo(stack.upstreams[0]!));
      keys.set(name, key);
    }
    return {
      mode: 'proxy', proxy: inst.handle, port: inst.port, hostKey: inst.hostKeyBlob, knownHostsPath: inst.knownHostsPath,
      localDir: stack.localDir, remoteDir: () => stack.upstreams[0]!.dir, key: (u) => keys.get(u)!,
      close: () => stack.close(),
    };
  } catch (err) {
    await stack.close();
    throw err;
  }
}

/** ProxyStack.startProxy takes environment only: the arguments go through a small wrapper of its env. */
async function startProxyWithArgs(stack: ProxyStack, opts: TargetOptions) {
  const env: Record<string, string | undefined> = { ...(opts.env ?? {}) };
  const args = opts.args ?? [];
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]!;
    if (!flag.startsWith('--') || args[i + 1] === undefined) throw new Error(`proxy target: args must be --flag value pairs: ${args.join(' ')}`);
    env[`SFTPPROXY_${flag.slice(2).replace(/-/g, '_').toUpperCase()}`] = args[i + 1];
  }
  return stack.startProxy(env);
}

async function localTarget(opts: TargetOptions): Promise<Target> {
  const tmp: TempDir = await makeTempDir('pysftpproxy-ops-local-');
  try {
    const users = opts.users ?? ['ursula'];
    const { setup, keys } = await localUsersSetup(tmp.path, users);
    const localDir = join(tmp.path, 'client');
    await mkdir(localDir);
    const proxy = await startProxy({ args: [...setup.args, ...(opts.args ?? [])], env: opts.env });
    await waitListeners(proxy, opts.listeners ?? 1);
    const hostLine = await productHostKeyLine(setup.dataDir);
    const knownHostsPath = await writeKnownHosts(join(tmp.path, 'known_hosts'), hostLine, proxy.port);
    return {
      mode: 'local', proxy, port: proxy.port, hostKey: Buffer.from(parsePublicLine(hostLine).blobBase64, 'base64'), knownHostsPath,
      localDir, remoteDir: (u) => join(setup.files, u), key: (u) => keys.get(u)!,
      async close() {
        await proxy.stop();
        await tmp.cleanup();
      },
    };
  } catch (err) {
    await tmp.cleanup();
    throw err;
  }
}
