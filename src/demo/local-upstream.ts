// pysftpproxy's own local mode as one of the demo's upstreams, in this process, when there is no
// OpenSSH sshd: one user (the proxy's key) served the folder files/.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { loadHostKey } from '../keys/host-key.js';
import { createLogger } from '../log/logger.js';
import { start } from '../main.js';
import type { DemoUpstream, UpstreamSpec } from './demo-upstream.js';

const USER = 'proxy';

export async function startLocalUpstream(spec: UpstreamSpec): Promise<DemoUpstream> {
  const { dir } = spec;
  const files = path.join(dir, 'files');
  fs.mkdirSync(files, { recursive: true });
  fs.writeFileSync(path.join(files, 'README.txt'), `This folder is upstream ${spec.label} (pysftpproxy local mode).\n`);
  const usersFile = path.join(dir, 'users.json');
  fs.writeFileSync(usersFile, JSON.stringify({ users: { [USER]: { keys: [spec.proxyKeyLine], folder: 'files' } } }, null, 2) + '\n');
  // Only its warnings: the log on screen is the proxy's.
  const loaded = loadConfig(['--mode', 'local', '--listen', '127.0.0.1', '--port', '0', '--store', `file:${usersFile}`,
    '--sftp-path', dir, '--data-dir', dir, '--log-level', 'warn', `--log-pretty=${spec.logPretty}`], {}, dir);
  if (loaded.kind !== 'run') throw new Error('unexpected --help');
  const running = await start(loaded.config, createLogger(loaded.config).child({ upstream: spec.label }));
  return {
    kind: 'pysftpproxy local mode', port: running.port, user: USER, hostKeyFingerprint: loadHostKey(loaded.config).fingerprint, files,
    stop: () => running.stop(),
  };
}
