// `npm run demo -- --local`: local mode on a users file in ./demo, with nothing else installed (no
// Redis, no sshd). The first run makes a demo user's key pair; every run prints the sftp command.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { createLogger } from '../log/logger.js';
import { loadHostKey } from '../keys/host-key.js';
import { start } from '../main.js';
import { demoKey } from './demo-key.js';
import { portOrAny } from './free-port.js';
import { shellWord, sftpLine } from './sftp-line.js';

export interface LocalDemoOptions {
  dir: string;
  port: number;
  logPretty: boolean;
}

export async function runLocalDemo(o: LocalDemoOptions): Promise<() => Promise<void>> {
  const files = path.join(o.dir, 'files');
  const usersFile = path.join(o.dir, 'users.json');
  const knownHosts = path.join(o.dir, 'known_hosts');
  fs.mkdirSync(path.join(files, 'demo'), { recursive: true });
  const readme = path.join(files, 'demo', 'README.txt');
  if (!fs.existsSync(readme)) fs.writeFileSync(readme, 'Hello from pysftpproxy local mode. Put files here.\n');
  const key = demoKey(path.join(o.dir, 'demo_user_ed25519'), 'demo@pysftpproxy');
  fs.writeFileSync(usersFile, JSON.stringify({ users: { demo: { keys: [key.publicLine], folder: 'demo' } } }, null, 2) + '\n');

  const port = await portOrAny(o.port);
  const loaded = loadConfig(['--mode', 'local', '--listen', '127.0.0.1', '--port', String(port), '--store', `file:${usersFile}`,
    '--sftp-path', files, '--data-dir', o.dir, `--log-pretty=${o.logPretty}`], {}, o.dir);
  if (loaded.kind !== 'run') throw new Error('unexpected --help');
  const running = await start(loaded.config, createLogger(loaded.config));
  const hostLine = fs.readFileSync(loadHostKey(loaded.config).path + '.pub', 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  fs.writeFileSync(knownHosts, `[localhost]:${running.port} ${hostLine}\n[127.0.0.1]:${running.port} ${hostLine}\n`);
  const rel = (p: string) => shellWord(path.relative(process.cwd(), p) || '.');
  process.stdout.write([
    '',
    `pysftpproxy demo: local mode serving ${rel(path.join(files, 'demo'))} as / for user "demo" (users file ${rel(usersFile)})`,
    'Connect with:',
    '',
    sftpLine(running.port, rel(key.privatePath), rel(knownHosts), 'demo'),
    '',
    'Ctrl-C stops it.',
    '',
  ].join('\n') + '\n');
  return () => running.stop();
}
