/**
 * A whole proxy-mode stack made of real parts, shared by the tests of one file:
 * a redis-server, one or more OpenSSH sshd upstreams (each serving its own
 * directory on disk), the proxy itself (`node bin/pysftpproxy`), users in
 * Redis, and a known_hosts file trusting the proxy for the OpenSSH client.
 *
 * Clients: the real OpenSSH `sftp` in batch mode (`stack.sftp`) and the ssh2
 * npm package's Client + sftp() (`stack.ssh2`).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import ssh2 from 'ssh2';
import {
  freePort,
  generateKey,
  parsePublicLine,
  runSftp,
  startProxy,
  startRedis,
  startSshd,
  writeKnownHosts,
  makeTempDir,
  type GeneratedKey,
  type KeyType,
  type LogLine,
  type ProxyHandle,
  type RedisHandle,
  type SftpResult,
  type SshdHandle,
  type TempDir,
} from '../harness/index.js';

export const PUBKEY_PREFIX = 'pysftpproxy:pubkey:';
export const USER_PREFIX = 'pysftpproxy:user:';
export const HOSTKEY_PREFIX = 'pysftpproxy:hostkey:';
/** Redis database the proxy uses (its default, set explicitly). */
export const REDIS_DB = 1;

export interface Upstream {
  sshd: SshdHandle;
  /** Directory the sshd serves (ForceCommand internal-sftp -d DIR): files land here on the real disk. */
  dir: string;
}

export interface TestUser {
  name: string;
  key: GeneratedKey;
}

export type RouteFields = Record<string, string>;

/** One running proxy process with the paths a client needs to trust it. */
export class ProxyInstance {
  constructor(
    readonly handle: ProxyHandle,
    readonly env: Record<string, string | undefined>,
    /** known_hosts file for the OpenSSH client, trusting this proxy's host key on its port. */
    readonly knownHostsPath: string,
    /** `ssh-ed25519 AAAA...` of the proxy's host key. */
    readonly hostKeyLine: string,
  ) {}

  get port(): number {
    return this.handle.port;
  }

  get hostKeyBlob(): Buffer {
    return Buffer.from(parsePublicLine(this.hostKeyLine).blobBase64, 'base64');
  }

  /** Index of the next log line: pass it as `since` to look only at what follows. */
  mark(): number {
    return this.handle.logs().length;
  }

  logs(since = 0): LogLine[] {
    return this.handle.logs().slice(since);
  }

  waitFor(predicate: (l: LogLine) => boolean, since = 0, timeoutMs = 10_000): Promise<LogLine> {
    return this.handle.waitForLog(predicate, timeoutMs, since);
  }

  /** The `login refused` line for `user` (logged at or after `since`). */
  waitRefused(user: string, since: number, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('login refused') && l.user === user,
      since, timeoutMs);
  }

  /** The `session end` line for `user` (logged at or after `since`). */
  waitSessionEnd(user: string, since: number, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitFor((l) => l.msg === 'session end' && l.user === user, since, timeoutMs);
  }
}

export interface StackOptions {
  /** Number of sshd upstreams (default 1). */
  upstreams?: number;
  /** Extra environment for the primary proxy (e.g. SFTPPROXY_CONNECT_TIMEOUT). */
  proxyEnv?: Record<string, string | undefined>;
  /** Do not start the primary proxy (default: start it). */
  noProxy?: boolean;
}

export class ProxyStack {
  readonly upstreams: Upstream[] = [];
  /** The proxy's client key (what it logs in upstream with); authorized on every upstream by default. */
  upstreamKey!: GeneratedKey;
  redis!: RedisHandle;
  /** Client on the proxy's Redis database. */
  db!: Redis;
  private primary: ProxyInstance | undefined;
  private readonly proxies = new Set<ProxyInstance>();
  /** What was written to Redis through this fixture, to write it again after a Redis restart. */
  private readonly records = new Map<string, string | RouteFields>();
  private userCount = 0;

  private constructor(readonly tmp: TempDir) {}

  static async start(opts: StackOptions = {}): Promise<ProxyStack> {
    const stack = new ProxyStack(await makeTempDir('pysftpproxy-proxytest-'));
    try {
      await stack.init(opts);
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  private async init(opts: StackOptions): Promise<void> {
    for (const d of ['keys', 'local', 'data']) await mkdir(join(this.tmp.path, d), { recursive: true });
    await writeFile(this.payload, 'a small upload\n');
    this.upstreamKey = await generateKey(join(this.tmp.path, 'keys'), 'ed25519', 'proxy_upstream_key');
    this.redis = await startRedis();
    this.db = this.redis.client(REDIS_DB);
    for (let i = 0; i < (opts.upstreams ?? 1); i++) await this.addUpstream();
    if (!opts.noProxy) this.primary = await this.startProxy(opts.proxyEnv ?? {});
  }

  /** The primary proxy. */
  get proxy(): ProxyInstance {
    assert.ok(this.primary, 'the stack was started without a proxy');
    return this.primary;
  }

  /** Where the client's local files live. */
  get localDir(): string {
    return join(this.tmp.path, 'local');
  }

  /** A small local file (written at start) for uploads that only show a login works. */
  get payload(): string {
    return join(this.localDir, 'payload.txt');
  }

  /**
   * After a refusal or a fault: `user` still logs in through `proxy` (default: the primary) and
   * uploads, the file lands on `up` (default: the first upstream), and the proxy has not exited.
   */
  async assertStillServing(user: TestUser, tag: string, opts: { proxy?: ProxyInstance; up?: Upstream } = {}): Promise<void> {
    const remote = `ok-${tag}.txt`;
    const res = await this.sftp(user, [`put ${this.payload} ${remote}`], { proxy: opts.proxy });
    assert.equal(res.code, 0, `${user.name} could not log in and upload after ${tag}:\n${res.stderr}`);
    assert.ok(existsSync(join((opts.up ?? this.upstreams[0]!).dir, remote)), `the upload after ${tag} is missing upstream`);
    assert.equal((opts.proxy ?? this.proxy).handle.exited, false, 'the proxy exited');
  }

  /** Start another sshd upstream, serving a fresh directory, with the proxy's key authorized (unless `authorize: false`). */
  async addUpstream(opts: { authorize?: boolean; port?: number } = {}): Promise<Upstream> {
    const dir = join(this.tmp.path, `upstream-${this.upstreams.length}`);
    await mkdir(dir, { recursive: true });
    const sshd = await startSshd({
      startDir: dir,
      authorizedKeys: opts.authorize === false ? [] : [this.upstreamKey.publicLine],
      port: opts.port,
    });
    const up = { sshd, dir };
    this.upstreams.push(up);
    return up;
  }

  /** Base environment of a proxy talking to this stack's Redis. */
  baseEnv(port: number): Record<string, string> {
    return {
      SFTPPROXY_PORT: String(port),
      SFTPPROXY_LISTEN: '127.0.0.1',
      SFTPPROXY_REDIS_HOST: '127.0.0.1',
      SFTPPROXY_REDIS_PORT: String(this.redis.port),
      SFTPPROXY_REDIS_DB: String(REDIS_DB),
      SFTPPROXY_CLIENT_KEY_PATH: this.upstreamKey.privatePath,
      SFTPPROXY_DATA_DIR: join(this.tmp.path, 'data'),
      SFTPPROXY_LOG_LEVEL: 'info',
      SFTPPROXY_LOG_PRETTY: 'false',
    };
  }

  /**
   * Start a proxy (the primary one or an extra one) on a free port. `env`
   * overlays baseEnv(); a value of undefined removes a variable. Stopped by close().
   */
  async startProxy(env: Record<string, string | undefined> = {}): Promise<ProxyInstance> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const fullEnv = { ...this.baseEnv(port), ...env };
      let handle: ProxyHandle;
      try {
        handle = await startProxy({ env: fullEnv, cwd: this.tmp.path });
      } catch (err) {
        lastErr = err;
        if (/cannot listen|EADDRINUSE/.test(String(err))) continue;
        throw err;
      }
      const dataDir = fullEnv.SFTPPROXY_DATA_DIR ?? join(this.tmp.path, 'data');
      const hostKeyLine = (await readFile(join(dataDir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
      const knownHostsPath = join(this.tmp.path, `known_hosts_proxy_${handle.port}`);
      await writeKnownHosts(knownHostsPath, hostKeyLine, handle.port);
      const inst = new ProxyInstance(handle, fullEnv, knownHostsPath, hostKeyLine);
      this.proxies.add(inst);
      return inst;
    }
    throw lastErr;
  }

  async stopProxy(inst: ProxyInstance): Promise<void> {
    this.proxies.delete(inst);
    await inst.handle.stop();
  }

  /** A unique user name with the given prefix. */
  uniqueName(prefix: string): string {
    this.userCount++;
    return `${prefix}${this.userCount}`;
  }

  /** Route fields pointing at `up` (as root, the sshd's user). */
  routeTo(up: Upstream, extra: RouteFields = {}): RouteFields {
    return { remote: '127.0.0.1', port: String(up.sshd.port), user: 'root', ...extra };
  }

  /**
   * Create a user: a fresh key (registered in Redis under `registerAs`, default
   * the user's own name, unless `register: false`) and a route hash (to
   * `upstream`, default the first upstream; `route: null` writes none; `route`
   * as fields writes exactly those).
   */
  async addUser(prefix: string, opts: {
    upstream?: Upstream;
    route?: RouteFields | null;
    keyType?: KeyType;
    register?: boolean;
    registerAs?: string;
  } = {}): Promise<TestUser> {
    const name = this.uniqueName(prefix);
    const key = await generateKey(join(this.tmp.path, 'keys'), opts.keyType ?? 'ed25519', `client_${name}`);
    if (opts.register !== false) await this.setRecord(PUBKEY_PREFIX + key.blobBase64, opts.registerAs ?? name);
    if (opts.route !== null) {
      await this.setRoute(name, opts.route ?? this.routeTo(opts.upstream ?? this.upstreams[0]!));
    }
    return { name, key };
  }

  /** Replace the user's route hash with exactly `fields`. */
  async setRoute(name: string, fields: RouteFields): Promise<void> {
    await this.setRecord(USER_PREFIX + name, fields);
  }

  private async setRecord(key: string, value: string | RouteFields): Promise<void> {
    this.records.set(key, value);
    await this.writeRecord(key, value);
  }

  private async writeRecord(key: string, value: string | RouteFields): Promise<void> {
    if (typeof value === 'string') {
      await this.db.set(key, value);
    } else {
      await this.db.multi().del(key).hset(key, value).exec();
    }
  }

  /** Write every user record again (after a Redis restart lost them). */
  async repopulate(): Promise<void> {
    for (const [key, value] of this.records) await this.writeRecord(key, value);
  }

  /**
   * Run the real OpenSSH sftp client in batch mode against a proxy (default the
   * primary), as `user` with their key. Relative local paths are in localDir.
   */
  sftp(user: TestUser | { name: string; keyPath: string }, batch: string[], opts: {
    proxy?: ProxyInstance;
    extraArgs?: string[];
    timeoutMs?: number;
  } = {}): Promise<SftpResult> {
    const proxy = opts.proxy ?? this.proxy;
    return runSftp({
      port: proxy.port,
      user: user.name,
      keyPath: 'key' in user ? user.key.privatePath : user.keyPath,
      knownHostsPath: proxy.knownHostsPath,
      batch,
      cwd: this.localDir,
      extraArgs: opts.extraArgs,
      timeoutMs: opts.timeoutMs ?? 60_000,
    });
  }

  /**
   * Log in with the ssh2 npm client. Resolves with the connected client, or
   * rejects with ssh2's error. The proxy's host key is checked.
   */
  ssh2(opts: {
    user: string;
    privateKey?: Buffer | string;
    password?: string;
    proxy?: ProxyInstance;
    timeoutMs?: number;
  }): Promise<ssh2.Client> {
    const proxy = opts.proxy ?? this.proxy;
    const expected = proxy.hostKeyBlob;
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      client.once('ready', () => resolve(client));
      client.once('error', (err) => {
        client.end();
        reject(err);
      });
      client.once('close', () => reject(new Error('connection closed before ready')));
      client.connect({
        host: '127.0.0.1',
        port: proxy.port,
        username: opts.user,
        privateKey: opts.privateKey,
        password: opts.password,
        readyTimeout: opts.timeoutMs ?? 20_000,
        hostVerifier: (key: Buffer) => key.equals(expected),
      });
    });
  }

  /** Open the sftp subsystem on an ssh2 client. */
  static sftpOf(client: ssh2.Client): Promise<ssh2.SFTPWrapper> {
    return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const p of this.proxies) await p.handle.stop().catch((e) => errors.push(e));
    this.proxies.clear();
    for (const up of this.upstreams) await up.sshd.close().catch((e) => errors.push(e));
    if (this.redis) await this.redis.close().catch((e) => errors.push(e));
    await this.tmp.cleanup();
    if (errors.length > 0) throw errors[0];
  }
}

/**
 * The client's stderr must not reveal internals: nothing about Redis or the
 * store's keys, and no upstream address.
 */
export function assertNoInternals(stderr: string, stack: ProxyStack, extraPorts: number[] = []): void {
  assert.doesNotMatch(stderr, /redis/i, `client stderr mentions redis:\n${stderr}`);
  assert.doesNotMatch(stderr, /pysftpproxy:(user|pubkey|hostkey):/, `client stderr shows a store key:\n${stderr}`);
  for (const port of [...stack.upstreams.map((u) => u.sshd.port), ...extraPorts]) {
    assert.ok(!stderr.includes(String(port)), `client stderr shows the upstream port ${port}:\n${stderr}`);
  }
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(stepMs);
  }
}

/** sftp batch lines that upload `local` to `remote` and list it: a "does login work" probe. */
export function probeBatch(local: string, remote: string): string[] {
  return [`put ${local} ${remote}`, `ls -l ${remote}`];
}
