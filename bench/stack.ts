// Everything the benchmark measures against, on loopback: a redis-server, an OpenSSH sshd (the
// baseline, and the proxy's upstream), the proxy itself as a child process, and (when local mode
// works) a second proxy process in local mode serving the same folder as sshd.
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  descendants,
  freePort,
  generateKey,
  knownHostsEntry,
  runSftp,
  sha256File,
  startProxy,
  startRedis,
  startSshd,
  trackDir,
  untrackDir,
  writeRandomFile,
  type GeneratedKey,
  type ProxyHandle,
  type RedisHandle,
  type SftpResult,
  type SshdHandle,
} from '../test/harness/index.js';

export type EndpointName = 'direct' | 'proxied' | 'local' | 'relay';

/** Something an SFTP client can log in to. */
export interface Endpoint {
  name: EndpointName;
  port: number;
  /** Login name. */
  user: string;
  /**
   * The process serving it that we measure: the proxy, or the sshd listener for `direct`, or the
   * front sshd's listener for `relay` (its CPU is that of its reaped session processes).
   */
  pid: number;
  /** The server's host key (.pub line), for known_hosts entries of other ports leading to it. */
  hostKeyLine: string;
}

export interface StackOptions {
  /** Extra node options for proxy processes (passed as NODE_OPTIONS), e.g. "--max-semi-space-size=64". */
  proxyNodeArgs?: string;
  /** Write a V8 CPU profile of every proxy process into this directory (on exit). */
  proxyCpuProfDir?: string;
  /** Keep the work directory (for debugging). */
  keep?: boolean;
  log: (line: string) => void;
}

export type LocalAvailability = { ok: true; endpoint: Endpoint; proxy: ProxyHandle } | { ok: false; reason: string };

const BENCH_USER = 'bench';
const PROFILE_PRELOAD = fileURLToPath(new URL('./cpu-profile-preload.js', import.meta.url));
const MEMORY_PRELOAD = fileURLToPath(new URL('./memory-probe-preload.js', import.meta.url));

/** /dev/shm when present (keeps the disk out of the figures), else the OS temp dir. */
function fastTmpRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export class Stack {
  private readonly proxies = new Set<ProxyHandle>();
  private localPromise: Promise<LocalAvailability> | undefined;

  private constructor(
    readonly opts: StackOptions,
    /** Work directory root (on /dev/shm when present). */
    readonly work: string,
    /** sshd's start directory (ForceCommand internal-sftp -d) and the local-mode user's folder. */
    readonly serverDir: string,
    /** Where clients read and write their local files. */
    readonly clientDir: string,
    readonly redis: RedisHandle,
    readonly sshd: SshdHandle,
    /** The benchmark user's key (same for direct and proxied logins). */
    readonly userKey: GeneratedKey,
    /** The key the proxy logs in upstream with. */
    readonly upstreamKey: GeneratedKey,
    readonly proxyHostKey: GeneratedKey,
    readonly knownHostsPath: string,
    readonly direct: Endpoint,
    readonly proxy: ProxyHandle,
    readonly proxied: Endpoint,
  ) {}

  static async start(opts: StackOptions): Promise<Stack> {
    const work = await mkdtemp(join(fastTmpRoot(), 'pysftpproxy-bench-'));
    if (!opts.keep) trackDir(work);
    const serverDir = join(work, 'server');
    const clientDir = join(work, 'client');
    const keysDir = join(work, 'keys');
    for (const d of [serverDir, clientDir, keysDir, join(work, 'proxy-data')]) await mkdir(d, { recursive: true, mode: 0o700 });

    const [userKey, upstreamKey, proxyHostKey] = await Promise.all([
      generateKey(keysDir, 'ed25519', 'bench_user'),
      generateKey(keysDir, 'ed25519', 'proxy_upstream'),
      generateKey(keysDir, 'ed25519', 'proxy_host'),
    ]);

    const redis = await startRedis();
    const sshd = await startSshd({
      startDir: serverDir,
      authorizedKeys: [userKey.publicLine, upstreamKey.publicLine],
      // sshd keeps the last MaxStartups (checked with sshd -T), so this overrides the harness's 200.
      extraConfig: ['MaxStartups 2000'],
    });
    opts.log(`sshd pid ${sshd.pid} port ${sshd.port}; redis pid ${redis.pid} port ${redis.port}; work dir ${work}`);

    const db = redis.client(1);
    await db.set(`pysftpproxy:pubkey:${userKey.blobBase64}`, BENCH_USER);
    await db.hset(`pysftpproxy:user:${BENCH_USER}`, { remote: '127.0.0.1', port: String(sshd.port), user: 'root' });
    db.disconnect();

    const knownHostsPath = join(work, 'known_hosts');
    await writeFile(knownHostsPath, `${sshd.knownHostsLine()}\n`);
    const direct: Endpoint = { name: 'direct', port: sshd.port, user: 'root', pid: sshd.pid, hostKeyLine: sshd.hostPublicKeyLine };

    const partial = { opts, work, redis, proxyHostKey, upstreamKey, knownHostsPath };
    const proxy = await launchProxy(partial, 'proxy', {});
    const proxied: Endpoint = { name: 'proxied', port: proxy.port, user: BENCH_USER, pid: proxy.pid, hostKeyLine: proxyHostKey.publicLine };
    opts.log(`proxy pid ${proxy.pid} port ${proxy.port}`);

    const stack = new Stack(opts, work, serverDir, clientDir, redis, sshd, userKey, upstreamKey, proxyHostKey,
      knownHostsPath, direct, proxy, proxied);
    stack.proxies.add(proxy);
    return stack;
  }

  /**
   * Start one more proxy process (proxy mode), e.g. a fresh one for the idle-sessions case, with
   * `env` over the usual settings. With `workers` > 1 it waits until every worker logged `listening`.
   */
  async startExtraProxy(o: { workers?: number; memoryProbe?: string; env?: Record<string, string> } = {}): Promise<{ proxy: ProxyHandle; endpoint: Endpoint }> {
    const workers = o.workers ?? 1;
    const env: Record<string, string> = { ...o.env };
    if (workers > 1) env['SFTPPROXY_WORKERS'] = String(workers);
    if (o.memoryProbe) env['BENCH_MEMORY_PROBE'] = o.memoryProbe;
    const proxy = await launchProxy(this, 'proxy', env, o.memoryProbe ? [MEMORY_PRELOAD] : []);
    this.proxies.add(proxy);
    if (workers > 1) {
      const deadline = Date.now() + 20_000;
      while (proxy.logs().filter((l) => l.msg === 'listening').length < workers) {
        if (proxy.exited || Date.now() > deadline) {
          await this.stopProxy(proxy);
          throw new Error(`--workers ${workers}: only ${proxy.logs().filter((l) => l.msg === 'listening').length} worker(s) listening\n${proxy.output().slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { proxy, endpoint: { name: 'proxied', port: proxy.port, user: BENCH_USER, pid: proxy.pid, hostKeyLine: this.proxyHostKey.publicLine } };
  }

  async stopProxy(proxy: ProxyHandle): Promise<void> {
    await proxy.stop();
    this.proxies.delete(proxy);
  }

  /**
   * Local mode (`--mode local --store file:PATH`) serving `serverDir` to the bench user, started
   * once. Not available (with the reason) if it does not start or a tiny round trip fails.
   */
  local(): Promise<LocalAvailability> {
    this.localPromise ??= this.startLocal();
    return this.localPromise;
  }

  private async startLocal(): Promise<LocalAvailability> {
    const usersFile = join(this.work, 'users.json');
    await writeFile(usersFile, JSON.stringify({ users: { [BENCH_USER]: { keys: [this.userKey.publicLine], folder: this.serverDir } } }, null, 2));
    let proxy: ProxyHandle;
    try {
      proxy = await launchProxy(this, 'local', { SFTPPROXY_STORE: `file:${usersFile}` });
    } catch (err) {
      return { ok: false, reason: `local mode does not start: ${firstLines((err as Error).message)}` };
    }
    this.proxies.add(proxy);
    const endpoint: Endpoint = { name: 'local', port: proxy.port, user: BENCH_USER, pid: proxy.pid, hostKeyLine: this.proxyHostKey.publicLine };
    // A tiny put/get/rm round trip, byte-checked.
    const probe = join(this.clientDir, 'local-probe.bin');
    const back = join(this.clientDir, 'local-probe.back');
    const sum = await writeRandomFile(probe, 100_000);
    const res = await this.sftp(endpoint, [`put ${probe} local-probe.bin`, `get local-probe.bin ${back}`, 'rm local-probe.bin'], { timeoutMs: 30_000 });
    const ok = res.code === 0 && existsSync(back) && (await sha256File(back)) === sum;
    await rm(probe, { force: true });
    await rm(back, { force: true });
    if (!ok) {
      await this.stopProxy(proxy);
      return { ok: false, reason: `local mode started but a put/get round trip failed (sftp exit ${res.code}): ${firstLines(res.stderr || res.stdout)}` };
    }
    this.opts.log(`local-mode proxy pid ${proxy.pid} port ${proxy.port}`);
    return { ok: true, endpoint, proxy };
  }

  /**
   * The same endpoint reached through another local port (a delay relay in front of it): the
   * port gets a known_hosts entry for the endpoint's host key.
   */
  async through(ep: Endpoint, port: number): Promise<Endpoint> {
    await appendFile(this.knownHostsPath, `${knownHostsEntry(ep.hostKeyLine, port)}\n`);
    return { ...ep, port };
  }

  /** OpenSSH `sftp -b` against an endpoint (client cwd: clientDir). */
  sftp(ep: Endpoint, batch: string[], o: { extraArgs?: string[]; timeoutMs?: number } = {}): Promise<SftpResult> {
    return runSftp({
      port: ep.port,
      user: ep.user,
      keyPath: this.userKey.privatePath,
      knownHostsPath: this.knownHostsPath,
      batch,
      cwd: this.clientDir,
      extraArgs: o.extraArgs,
      timeoutMs: o.timeoutMs ?? 120_000,
    });
  }

  /** Wait until sshd has no per-connection children left (their CPU is then in its cutime). */
  sshdIdle(timeoutMs = 5000): Promise<boolean> {
    return processIdle(this.sshd.pid, timeoutMs);
  }

  async close(): Promise<void> {
    for (const p of [...this.proxies]) await p.stop().catch(() => null);
    this.proxies.clear();
    await this.sshd.close().catch(() => {});
    await this.redis.close().catch(() => {});
    if (!this.opts.keep) {
      await rm(this.work, { recursive: true, force: true });
      untrackDir(this.work);
    } else {
      this.opts.log(`kept work dir ${this.work}`);
    }
  }
}

interface ProxyLaunchContext {
  opts: StackOptions;
  work: string;
  redis: RedisHandle;
  proxyHostKey: GeneratedKey;
  upstreamKey: GeneratedKey;
  knownHostsPath: string;
}

async function launchProxy(s: ProxyLaunchContext, mode: 'proxy' | 'local', extraEnv: Record<string, string>,
    preloads: string[] = []): Promise<ProxyHandle> {
  if (s.opts.proxyCpuProfDir) preloads = [...preloads, PROFILE_PRELOAD];
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    SFTPPROXY_MODE: mode,
    SFTPPROXY_PORT: String(port),
    SFTPPROXY_LISTEN: '127.0.0.1',
    SFTPPROXY_REDIS_PORT: String(s.redis.port),
    SFTPPROXY_REDIS_DB: '1',
    SFTPPROXY_CLIENT_KEY_PATH: s.upstreamKey.privatePath,
    SFTPPROXY_PRIVATEKEY_PATH: s.proxyHostKey.privatePath,
    SFTPPROXY_DATA_DIR: join(s.work, 'proxy-data'),
    SFTPPROXY_UPSTREAM_HOSTKEYS: 'tofu',
    SFTPPROXY_LOG_LEVEL: 'info',
    SFTPPROXY_LOG_PRETTY: 'false',
    NODE_OPTIONS: [s.opts.proxyNodeArgs, ...preloads.map((p) => `--import=${p}`)].filter(Boolean).join(' ') || undefined,
    BENCH_CPU_PROF_DIR: s.opts.proxyCpuProfDir ? resolve(s.opts.proxyCpuProfDir) : undefined,
    ...extraEnv,
  };
  // cwd: the work dir, so a developer's ./.env cannot change what is measured.
  const proxy = await startProxy({ env, cwd: s.work, timeoutMs: 20_000 });
  const line = knownHostsEntry(s.proxyHostKey.publicLine, proxy.port);
  await appendFile(s.knownHostsPath, `${line}\n`);
  return proxy;
}

export function firstLines(text: string, n = 3): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, n).join(' / ').slice(0, 400);
}

/** Wait until `pid` has no child processes left (their CPU is then in its cutime). */
export async function processIdle(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (descendants(pid).length === 0) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** The benchmark's own view of /proc for a process. */
export function procStatus(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** CPU time of a process in clock ticks: own (utime+stime) and reaped children's (cutime+cstime). */
export function procCpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm field: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}
