/** A private OpenSSH sshd (the real one) used as an SFTP upstream in tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey, knownHostsEntry, type GeneratedKey } from './keys.js';
import { freePort } from './ports.js';
import { stopChild, trackChild } from './process-registry.js';
import { makeTempDir, type TempDir } from './tmp.js';

export const SSHD_PATH = '/usr/sbin/sshd';

export interface StartSshdOptions {
  /**
   * If set, adds `ForceCommand internal-sftp -d <startDir>` so every session
   * is SFTP starting in this directory (must exist). Otherwise sessions start
   * in root's home (/root) and only the sftp subsystem is configured.
   */
  startDir?: string;
  /** Public key lines initially written to the authorized keys file. */
  authorizedKeys?: string[];
  /** Extra arguments for internal-sftp (both Subsystem and ForceCommand), e.g. ['-R'] for read-only. */
  sftpArgs?: string[];
  /** Extra sshd_config lines, appended verbatim (before any Match blocks you add). */
  extraConfig?: string[];
  /** Port to use; default: a free port (retried if it was taken meanwhile). */
  port?: number;
  /** Readiness timeout (default 10 s). */
  timeoutMs?: number;
}

export interface SshdHandle {
  /** Loopback port; unchanged by restart(). */
  readonly port: number;
  /** PID of the current (last) sshd listener process. */
  readonly pid: number;
  /** True while the listener runs. */
  readonly running: boolean;
  /** Temp directory holding config, host key, authorized keys, log. */
  readonly dir: string;
  readonly configPath: string;
  readonly hostKeyPath: string;
  /** `ssh-ed25519 AAAA... comment` */
  readonly hostPublicKeyLine: string;
  /** `SHA256:...` of the host key. */
  readonly hostKeyFingerprint: string;
  readonly hostKey: GeneratedKey;
  readonly authorizedKeysPath: string;
  /** sshd -E log file (LogLevel VERBOSE); appended across restarts. */
  readonly logPath: string;
  /** Login user: always `root` (we run as root). */
  readonly user: string;
  /** known_hosts line `[host]:PORT ssh-ed25519 AAAA...` (host defaults to 127.0.0.1). */
  knownHostsLine(hostAlias?: string): string;
  /** Append a public key line to the authorized keys file (effective for the next login). */
  authorize(publicKeyLine: string): Promise<void>;
  /** Replace the authorized keys file content. */
  setAuthorizedKeys(publicKeyLines: string[]): Promise<void>;
  /** Current content of the sshd log. */
  log(): Promise<string>;
  /** Wait until the log contains `pattern` (checked every 50 ms). */
  waitForLog(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM the listener and its session children (SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** SIGKILL the listener and all its session children (crash simulation). */
  kill(): Promise<void>;
  /** Start again on the same port with the same host key (after stop()/kill()). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** stop() and remove the temp directory. */
  close(): Promise<void>;
}

class Sshd implements SshdHandle {
  readonly user = 'root';
  private child: ChildProcess | undefined;
  private lastPid = 0;

  constructor(
    public readonly port: number,
    private readonly tmp: TempDir,
    public readonly hostKey: GeneratedKey,
    private readonly timeoutMs: number,
  ) {}

  get pid(): number {
    return this.lastPid;
  }
  get running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }
  get dir(): string {
    return this.tmp.path;
  }
  get configPath(): string {
    return join(this.dir, 'sshd_config');
  }
  get hostKeyPath(): string {
    return this.hostKey.privatePath;
  }
  get hostPublicKeyLine(): string {
    return this.hostKey.publicLine;
  }
  get hostKeyFingerprint(): string {
    return this.hostKey.fingerprint;
  }
  get authorizedKeysPath(): string {
    return join(this.dir, 'authorized_keys');
  }
  get logPath(): string {
    return join(this.dir, 'sshd.log');
  }

  knownHostsLine(hostAlias = '127.0.0.1'): string {
    return knownHostsEntry(this.hostKey.publicLine, this.port, hostAlias);
  }

  async authorize(publicKeyLine: string): Promise<void> {
    await appendFile(this.authorizedKeysPath, `${publicKeyLine.trim()}\n`);
  }

  async setAuthorizedKeys(publicKeyLines: string[]): Promise<void> {
    await writeFile(this.authorizedKeysPath, publicKeyLines.map((l) => `${l.trim()}\n`).join(''));
  }

  log(): Promise<string> {
    return readFile(this.logPath, 'utf8').catch(() => '');
  }

  async waitForLog(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.log();
      if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) return text;
      if (Date.now() > deadline) {
        throw new Error(`sshd log did not match ${String(pattern)} within ${timeoutMs} ms:\n${text}`);
      }
      await sleep(50);
    }
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`sshd already running (pid ${this.lastPid})`);
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    // Only look at log lines written by this start (the log is appended).
    const offset = await stat(this.logPath).then((s) => s.size, () => 0);
    const child = spawn(SSHD_PATH, ['-D', '-f', this.configPath, '-E', this.logPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let spawnError: Error | undefined;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', (err) => (spawnError = err));
    trackChild(child, `sshd:${this.port}`);
    this.child = child;
    this.lastPid = child.pid ?? 0;

    const ready = `Server listening on 127.0.0.1 port ${this.port}.`;
    const deadline = Date.now() + this.timeoutMs;
    let failure: string;
    for (;;) {
      const text = await this.readLogFrom(offset);
      if (text.includes(ready) && this.running) return;
      if (spawnError) {
        failure = `cannot spawn ${SSHD_PATH}: ${spawnError.message}`;
        break;
      }
      if (!this.running) {
        await sleep(20); // let stderr drain
        failure = `sshd exited (code ${child.exitCode}, signal ${child.signalCode})`;
        break;
      }
      if (Date.now() > deadline) {
        failure = `sshd not listening after ${this.timeoutMs} ms`;
        await stopChild(child, { graceMs: 1000, tree: true });
        break;
      }
      await sleep(20);
    }
    const log = await this.readLogFrom(offset);
    throw new Error(`${failure} on port ${this.port}\n${output}\n${log}`);
  }

  private async readLogFrom(offset: number): Promise<string> {
    try {
      const fh = await open(this.logPath, 'r');
      try {
        const { size } = await fh.stat();
        if (size <= offset) return '';
        const buf = Buffer.alloc(size - offset);
        await fh.read(buf, 0, buf.length, offset);
        return buf.toString('utf8');
      } finally {
        await fh.close();
      }
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, { graceMs: 5000, tree: true });
  }

  async kill(): Promise<void> {
    if (this.child) await stopChild(this.child, { signal: 'SIGKILL', tree: true });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    await this.tmp.cleanup();
  }
}

/**
 * The lines every test and bench sshd shares: loopback only, root by public key from the
 * given authorized_keys, nothing interactive.
 */
export function sshdBaseConfig(port: number, dir: string, hostKeyPath: string): string[] {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin yes',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UseDNS no',
    'PrintMotd no',
    'X11Forwarding no',
  ];
}

function sshdConfig(port: number, dir: string, hostKeyPath: string, opts: StartSshdOptions): string {
  const sftp = ['internal-sftp', ...(opts.sftpArgs ?? [])].join(' ');
  const lines = [
    ...sshdBaseConfig(port, dir, hostKeyPath),
    // Many concurrent test connections from 127.0.0.1: do not drop them.
    'MaxStartups 200',
    'MaxSessions 100',
    'LoginGraceTime 30',
    `Subsystem sftp ${sftp}`,
    ...(opts.startDir !== undefined ? [`ForceCommand ${sftp} -d ${opts.startDir}`] : []),
    'LogLevel VERBOSE',
    ...(opts.extraConfig ?? []),
  ];
  return lines.join('\n') + '\n';
}

/**
 * Start `/usr/sbin/sshd -D -f CONFIG -E LOG` (foreground child, so we own the
 * PID) with its own ed25519 host key, on a free 127.0.0.1 port, and wait until
 * it logs `Server listening`. Login user is root, public key only.
 */
export async function startSshd(opts: StartSshdOptions = {}): Promise<SshdHandle> {
  const attempts = opts.port === undefined ? 5 : 1;
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    const tmp = await makeTempDir('pysftpproxy-sshd-');
    try {
      const port = opts.port ?? (await freePort());
      const hostKey = await generateKey(tmp.path, 'ed25519', 'ssh_host_ed25519_key');
      await writeFile(join(tmp.path, 'sshd_config'), sshdConfig(port, tmp.path, hostKey.privatePath, opts));
      const sshd = new Sshd(port, tmp, hostKey, opts.timeoutMs ?? 10_000);
      await sshd.setAuthorizedKeys(opts.authorizedKeys ?? []);
      await sshd.start();
      return sshd;
    } catch (err) {
      lastErr = err;
      await tmp.cleanup();
      if (!/address already in use|cannot bind/i.test(String(err))) break;
    }
  }
  throw lastErr;
}
