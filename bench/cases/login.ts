// Login latency, connect → authenticated → first SFTP reply (the server's VERSION), with an
// in-process ssh2 client, sequential, alternating direct and proxied logins with the same key.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { BenchContext, CaseOutcome } from '../context.js';
import { fmt, fmtSigned, verdict, type Row } from '../report.js';
import type { Endpoint } from '../stack.js';
import { median, percentile } from '../stats.js';

export interface LoginTiming {
  /** ms from connect() to 'ready' (authenticated). */
  readyMs: number;
  /** ms from connect() to the sftp() callback (VERSION received). */
  sftpMs: number;
}

function blobFingerprint(line: string): string {
  return createHash('sha256').update(Buffer.from(line.trim().split(/\s+/)[1]!, 'base64')).digest('base64');
}

/** One login; resolves with timings or rejects with the reason. */
export function loginOnce(ep: Endpoint, privateKey: Buffer, hostFingerprint: string, debug?: (m: string) => void): Promise<LoginTiming> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    const t0 = process.hrtime.bigint();
    const since = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    let readyMs = NaN;
    let settled = false;
    const done = (err: Error | null, timing?: LoginTiming): void => {
      if (settled) return;
      settled = true;
      c.end();
      if (err) reject(err);
      else resolve(timing!);
    };
    c.on('error', (err) => done(err));
    c.on('close', () => done(new Error('connection closed before the SFTP reply')));
    c.on('ready', () => {
      readyMs = since();
      c.sftp((err) => {
        if (err) return done(err);
        done(null, { readyMs, sftpMs: since() });
      });
    });
    c.connect({
      host: '127.0.0.1',
      port: ep.port,
      username: ep.user,
      privateKey,
      readyTimeout: 30_000,
      hostVerifier: (key: Buffer) => createHash('sha256').update(key).digest('base64') === hostFingerprint,
      debug,
    } as ssh2.ConnectConfig);
  });
}

export async function login(ctx: BenchContext): Promise<CaseOutcome> {
  const { stack, opts } = ctx;
  const key = readFileSync(stack.userKey.privatePath);
  const fp = new Map<string, string>([
    ['direct', blobFingerprint(stack.sshd.hostPublicKeyLine)],
    ['proxied', blobFingerprint(stack.proxyHostKey.publicLine)],
  ]);
  const eps = [stack.direct, stack.proxied];
  const samples = new Map<string, LoginTiming[]>(eps.map((e) => [e.name, []]));
  const failures: string[] = [];

  // What the proxy's upstream leg negotiates: ssh2's client defaults against this sshd.
  const handshake: string[] = [];
  await loginOnce(stack.direct, key, fp.get('direct')!, (m) => { if (/^Handshake: (KEX algorithm|C->S Cipher|S->C cipher):/.test(m)) handshake.push(m.replace('Handshake: ', '')); }).catch(() => {});
  const upstreamCipher = handshake.length > 0 ? handshake.join(', ') : '?';

  const warm = 3;
  for (let i = 0; i < warm + opts.logins; i++) {
    for (const ep of eps) {
      try {
        const t = await loginOnce(ep, key, fp.get(ep.name)!);
        if (i >= warm) samples.get(ep.name)!.push(t);
      } catch (err) {
        failures.push(`${ep.name}: ${(err as Error).message}`);
      }
    }
    if ((i + 1 - warm) % 10 === 0 && i >= warm) ctx.log(`  ${i + 1 - warm}/${opts.logins} login pairs`);
  }

  const stat = (name: string, f: (t: LoginTiming) => number, p: number): number => percentile(samples.get(name)!.map(f), p);
  const rows: Row[] = [];
  const sftp = (t: LoginTiming): number => t.sftpMs;
  const ready = (t: LoginTiming): number => t.readyMs;
  const d50 = stat('proxied', sftp, 50) - stat('direct', sftp, 50);
  rows.push({
    measure: 'login → first SFTP reply, p50 ms',
    baseline: `direct ${fmt(stat('direct', sftp, 50))}`,
    product: `proxied ${fmt(stat('proxied', sftp, 50))}`,
    ratio: fmtSigned(d50, 1, ' ms'),
    target: '≤ +10 ms',
    verdict: verdict(d50 <= 10),
    values: { direct: stat('direct', sftp, 50), proxied: stat('proxied', sftp, 50), delta: d50, target: 10 },
  });
  const d95 = stat('proxied', sftp, 95) - stat('direct', sftp, 95);
  rows.push({
    measure: 'login → first SFTP reply, p95 ms',
    baseline: `direct ${fmt(stat('direct', sftp, 95))}`,
    product: `proxied ${fmt(stat('proxied', sftp, 95))}`,
    ratio: fmtSigned(d95, 1, ' ms'),
    target: '',
    verdict: '',
    values: { direct: stat('direct', sftp, 95), proxied: stat('proxied', sftp, 95), delta: d95 },
  });
  const r50 = stat('proxied', ready, 50) - stat('direct', ready, 50);
  rows.push({
    measure: 'login → authenticated, p50 ms',
    baseline: `direct ${fmt(stat('direct', ready, 50))}`,
    product: `proxied ${fmt(stat('proxied', ready, 50))}`,
    ratio: fmtSigned(r50, 1, ' ms'),
    target: '',
    verdict: '',
    values: { direct: stat('direct', ready, 50), proxied: stat('proxied', ready, 50), delta: r50 },
  });
  const notes = [
    `${opts.logins} measured logins per side (after ${warm} warm-up each), sequential, alternating; ed25519 user key; ssh2 client in the bench process`,
    `proxied "authenticated" is the proxy's own login; the upstream login to sshd happens after it, before the SFTP reply`,
    `upstream leg (ssh2 client defaults → sshd) negotiates ${upstreamCipher}`,
  ];
  if (failures.length > 0) notes.push(`${failures.length} login(s) failed: ${failures.slice(0, 3).join('; ')}`);
  const medianSftp = median(samples.get('proxied')!.map(sftp));
  return {
    status: failures.length > 0 ? 'failed' : 'ok',
    notes,
    rows,
    details: {
      samples: Object.fromEntries([...samples].map(([k, v]) => [k, v])),
      failures,
      upstreamHandshake: handshake,
      proxiedMedianSftpMs: medianSftp,
    },
  };
}
