// `npm run demo`: local mode on a users file in ./demo, with nothing else installed (no Redis, no
// sshd). First run makes a host key, a demo user's key pair and known_hosts; every run prints the
// exact sftp command that works.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { generateEd25519 } from '../keys/generate-ed25519.js';
import { loadConfig } from '../config/load-config.js';
import { createLogger } from '../log/logger.js';
import { loadHostKey } from '../keys/host-key.js';
import { start } from '../main.js';

const dir = path.resolve(process.env['DEMO_DIR'] ?? 'demo');
const files = path.join(dir, 'files');
const userKey = path.join(dir, 'demo_user_ed25519');
const usersFile = path.join(dir, 'users.json');
const knownHosts = path.join(dir, 'known_hosts');

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function firstRunSetup(): void {
  fs.mkdirSync(path.join(files, 'demo'), { recursive: true });
  if (!fs.existsSync(userKey)) {
    const pair = generateEd25519('demo@pysftpproxy');
    fs.writeFileSync(userKey, pair.private + '\n', { mode: 0o600 });
    fs.writeFileSync(userKey + '.pub', pair.public + '\n');
    fs.writeFileSync(path.join(files, 'demo', 'README.txt'), 'Hello from pysftpproxy local mode. Put files here.\n');
  }
  const publicLine = fs.readFileSync(userKey + '.pub', 'utf8').trim();
  fs.writeFileSync(usersFile, JSON.stringify({ users: { demo: { keys: [publicLine], folder: 'demo' } } }, null, 2) + '\n');
}

async function main(): Promise<void> {
  firstRunSetup();
  const wanted = Number(process.env['DEMO_PORT'] ?? 2200);
  const port = wanted !== 0 && await portIsFree(wanted) ? wanted : 0;
  const loaded = loadConfig(['--mode', 'local', '--listen', '127.0.0.1', '--port', String(port), '--store', `file:${usersFile}`,
    '--sftp-path', files, '--data-dir', dir, `--log-pretty=${process.env['DEMO_LOG_JSON'] ? 'false' : 'true'}`], {});
  if (loaded.kind !== 'run') return;
  const log = createLogger(loaded.config);
  const running = await start(loaded.config, log);
  const hostKey = loadHostKey(loaded.config);
  const hostLine = fs.readFileSync(hostKey.path + '.pub', 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  fs.writeFileSync(knownHosts, `[localhost]:${running.port} ${hostLine}\n[127.0.0.1]:${running.port} ${hostLine}\n`);
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  process.stdout.write([
    '',
    `pysftpproxy demo: local mode serving ${rel(path.join(files, 'demo'))} as / for user "demo" (users file ${rel(usersFile)})`,
    'Connect with:',
    '',
    `  sftp -P ${running.port} -i ${rel(userKey)} -o IdentitiesOnly=yes -o UserKnownHostsFile=${rel(knownHosts)} demo@localhost`,
    '',
    'Ctrl-C stops it.',
    '',
  ].join('\n') + '\n');
  const stop = () => { void running.stop().finally(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
