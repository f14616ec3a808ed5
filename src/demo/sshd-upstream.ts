// A private OpenSSH sshd as one of the demo's upstreams: its own host key, config, log and
// authorized_keys (only the proxy's key) in its directory, SFTP only, starting in files/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoKey } from './demo-key.js';
import type { DemoUpstream, UpstreamSpec } from './demo-upstream.js';
import { freePort } from './free-port.js';

export const SSHD = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;

/** sshd_config values may hold spaces (the demo runs wherever it is started). */
const q = (value: string) => `"${value}"`;

function sshdConfig(dir: string, port: number, files: string, user: string): string {
  return [
    `Port ${port}`, 'ListenAddress 127.0.0.1',
    `HostKey ${q(path.join(dir, 'ssh_host_ed25519_key'))}`,
    `PidFile ${q(path.join(dir, 'sshd.pid'))}`,
    `AuthorizedKeysFile ${q(path.join(dir, 'authorized_keys'))}`,
    `AllowUsers ${user}`, 'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    // The demo's folder may be group-writable (a umask): it is the demo's own, on loopback.
    'UsePAM no', 'StrictModes no', 'UseDNS no', 'PrintMotd no', 'X11Forwarding no', 'AllowTcpForwarding no',
    // internal-sftp takes -d literally (quotes included): startSshdUpstream refuses paths with spaces.
    'Subsystem sftp internal-sftp', `ForceCommand internal-sftp -d ${files}`,
    'LogLevel INFO',
  ].join('\n') + '\n';
}

export async function startSshdUpstream(spec: UpstreamSpec): Promise<DemoUpstream> {
  const { dir } = spec;
  const files = path.join(dir, 'files');
  if (/[\s"'%\\]/.test(files)) throw new Error(`the path ${JSON.stringify(files)} has spaces or quotes, which sshd's ForceCommand cannot take`);
  fs.mkdirSync(files, { recursive: true });
  fs.writeFileSync(path.join(files, 'README.txt'), `This folder is upstream ${spec.label} (OpenSSH sshd).\n`);
  const hostKey = demoKey(path.join(dir, 'ssh_host_ed25519_key'), `upstream-${spec.label}`);
  fs.chmodSync(hostKey.privatePath, 0o600); // sshd refuses a host key others can read
  fs.writeFileSync(path.join(dir, 'authorized_keys'), spec.proxyKeyLine + '\n');
  const user = os.userInfo().username;
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'sshd_config'), sshdConfig(dir, port, files, user));
  // As root, sshd wants its privilege separation directory (made by the service, which is not running).
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const logPath = path.join(dir, 'sshd.log');
  fs.writeFileSync(logPath, '');
  const { child, output } = spec.owned.spawn(SSHD, ['-D', '-f', path.join(dir, 'sshd_config'), '-E', logPath]);
  const ready = `Server listening on 127.0.0.1 port ${port}.`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const log = fs.readFileSync(logPath, 'utf8');
    if (log.includes(ready)) break;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await spec.owned.stop(child);
      const why = `${output()}${log}`.trim().split('\n').slice(-3).join(' / ');
      throw new Error(`${SSHD} did not start on port ${port}: ${why || 'no output'}`);
    }
    await sleep(25);
  }
  return {
    kind: 'OpenSSH sshd', port, user, hostKeyFingerprint: hostKey.fingerprint, files,
    stop: () => spec.owned.stop(child),
  };
}
