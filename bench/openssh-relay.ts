// The hand-rolled alternative to a proxy that operators run today (and the original pysftpproxy
// wrapped): a front OpenSSH sshd whose `Subsystem sftp` is a script that execs
// `ssh -s UPSTREAM sftp`, so every session is two OpenSSH processes relaying the SFTP bytes, with
// the same cipher on both legs. The front sshd runs on its own port; its upstream is the bench's sshd.
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, generateKey, knownHostsEntry, sshdBaseConfig, stopChild, trackChild } from '../test/harness/index.js';
import type { Endpoint, Stack } from './stack.js';

export interface OpensshRelay {
  endpoint: Endpoint;
  /** The script sshd runs for the sftp subsystem (shown in the report). */
  command: string;
  stop(): Promise<void>;
}

/** `cipher`: the -c argument of the relay's ssh (the client leg's cipher is the client's choice). */
export async function startOpensshRelay(stack: Stack, cipher: string): Promise<OpensshRelay> {
  const dir = join(stack.work, 'openssh-relay');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const hostKey = await generateKey(dir, 'ed25519', 'ssh_host_ed25519_key');
  const upstreamKnownHosts = join(dir, 'upstream_known_hosts');
  await writeFile(upstreamKnownHosts, `${stack.sshd.knownHostsLine()}\n`);
  const command = ['exec ssh -q -F /dev/null -T -x -a', `-c ${cipher}`, `-p ${stack.sshd.port}`, `-i ${stack.upstreamKey.privatePath}`,
    '-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes', `-o UserKnownHostsFile=${upstreamKnownHosts}`,
    '-s root@127.0.0.1 sftp'].join(' ');
  const script = join(dir, 'sftp-relay');
  await writeFile(script, `#!/bin/sh\n${command}\n`);
  await chmod(script, 0o755);
  await writeFile(join(dir, 'authorized_keys'), `${stack.userKey.publicLine}\n`);

  const port = await freePort();
  const config = [
    ...sshdBaseConfig(port, dir, hostKey.privatePath),
    'MaxStartups 200',
    `Subsystem sftp ${script}`,
    'LogLevel INFO',
  ];
  const configPath = join(dir, 'sshd_config');
  const logPath = join(dir, 'sshd.log');
  await writeFile(configPath, config.join('\n') + '\n');
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn('/usr/sbin/sshd', ['-D', '-f', configPath, '-E', logPath], { stdio: 'ignore' });
  trackChild(child, `relay-sshd:${port}`);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const log = await readFile(logPath, 'utf8').catch(() => '');
    if (log.includes(`Server listening on 127.0.0.1 port ${port}.`)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child, { tree: true, graceMs: 1000 });
      throw new Error(`relay sshd did not start on port ${port}: ${log.slice(-1000)}`);
    }
    await sleep(20);
  }
  await writeFile(stack.knownHostsPath, `${knownHostsEntry(hostKey.publicLine, port)}\n`, { flag: 'a' });
  return {
    endpoint: { name: 'relay', port, user: 'root', pid: child.pid!, hostKeyLine: hostKey.publicLine },
    command,
    stop: async () => {
      await stopChild(child, { tree: true, graceMs: 5000 });
    },
  };
}
