/**
 * Real SFTP clients driven against a PolicyTarget: OpenSSH `sftp` and PuTTY `psftp` in batch mode
 * (every command's failure ignored, so one run tries them all), paramiko running a list of
 * operations (scripts/policy_ops.py: one result per operation), and a raw SFTP client over an
 * ssh2 channel for the requests no client command sends as we want them.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { execFileCollect, REPO_ROOT, runSftp, type ExecResult } from '../harness/index.js';
import { RawSftpClient } from '../sftp/raw-client.js';
import type { PolicyTarget, PolicyUser } from './targets.js';

/** OpenSSH sftp with `batch` (each line prefixed with `-`: a failure does not stop the batch). */
export function openssh(t: PolicyTarget, u: PolicyUser, batch: string[], cwd: string): Promise<ExecResult> {
  return runSftp({
    port: t.port, user: u.name, keyPath: u.key.privatePath, knownHostsPath: t.knownHostsPath,
    batch: batch.map((l) => `-${l}`), cwd, timeoutMs: 60_000,
  });
}

/** psftp -batch -be (continue after errors), the host key pinned by fingerprint. */
export async function psftp(t: PolicyTarget, u: PolicyUser, batch: string[], cwd: string): Promise<ExecResult> {
  const home = join(cwd, '.psftp-home');
  await mkdir(home, { recursive: true });
  const env = { ...process.env, HOME: home };
  const ppk = join(home, `${u.name}.ppk`);
  const conv = await execFileCollect('puttygen', [u.key.privatePath, '-O', 'private', '-o', ppk], { env, timeoutMs: 30_000 });
  if (conv.code !== 0) throw new Error(`puttygen failed: ${conv.stderr}`);
  const batchPath = join(home, 'batch');
  await writeFile(batchPath, batch.map((l) => `${l}\n`).join(''));
  return execFileCollect('psftp', ['-batch', '-P', String(t.port), '-i', ppk, '-hostkey', t.hostKeyFingerprint,
    '-b', batchPath, '-be', `${u.name}@127.0.0.1`], { env, cwd, timeoutMs: 60_000 });
}

export type ParamikoOp = Record<string, unknown> & { op: string };
export interface ParamikoResult {
  op: string;
  ok: boolean;
  /** errno of the IOError paramiko raised (13: PERMISSION_DENIED, 2: NO_SUCH_FILE). */
  errno?: number | null;
  error?: string;
  value?: unknown;
}

const SCRIPT = join(REPO_ROOT, 'test', 'policy', 'scripts', 'policy_ops.py');

/** One paramiko session running `ops` in order; one result each. */
export async function paramiko(t: PolicyTarget, u: PolicyUser, ops: ParamikoOp[]): Promise<ParamikoResult[]> {
  const req = { host: '127.0.0.1', port: t.port, user: u.name, keyPath: u.key.privatePath, knownHostsPath: t.knownHostsPath, ops };
  const res = await execFileCollect('/usr/bin/python3', ['-W', 'ignore', SCRIPT], { input: JSON.stringify(req), timeoutMs: 60_000 });
  const line = res.stdout.trim().split('\n').pop() ?? '';
  let out: { ok: boolean; results?: ParamikoResult[]; error?: string };
  try {
    out = JSON.parse(line) as typeof out;
  } catch {
    throw new Error(`paramiko script gave no JSON (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  }
  if (!out.ok || !out.results) throw new Error(`paramiko session failed: ${out.error}\n${res.stderr}`);
  return out.results;
}

/** An ssh2 connection to the target logged in as `u` (host key checked). */
export function connect(t: PolicyTarget, u: PolicyUser, localAddress?: string): Promise<ssh2.Client> {
  const expected = Buffer.from(t.hostKeyLine.split(/\s+/)[1]!, 'base64');
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({
      host: '127.0.0.1', port: t.port, username: u.name, privateKey: readFileSync(u.key.privatePath), localAddress,
      readyTimeout: 20_000, hostVerifier: (key: Buffer) => key.equals(expected),
    });
  });
}

/** The raw `sftp` subsystem channel of a connection. */
export function sftpChannel(c: ssh2.Client): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => c.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))));
}

export interface RawSession {
  conn: ssh2.Client;
  channel: ssh2.ClientChannel;
  sftp: RawSftpClient;
  end(): void;
}

/** A raw SFTP session (INIT/VERSION done) as `u`. */
export async function raw(t: PolicyTarget, u: PolicyUser): Promise<RawSession> {
  const conn = await connect(t, u);
  const channel = await sftpChannel(conn);
  const sftp = await RawSftpClient.connect(channel);
  return { conn, channel, sftp, end: () => conn.end() };
}
