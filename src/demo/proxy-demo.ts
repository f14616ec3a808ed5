// `npm run demo`: the main job on loopback. The proxy routes two users, by their keys, to two
// upstream SFTP servers: alice (read-write) to upstream A, bob (read-only) to upstream B. Users
// come from a users file, or with --redis from a private redis-server in the real schema.
// Everything lives in ./demo/proxy; keys are made on the first run and kept.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { loadHostKey } from '../keys/host-key.js';
import { createLogger } from '../log/logger.js';
import { start } from '../main.js';
import { demoKey, type DemoKey } from './demo-key.js';
import { REDIS_DB, startDemoRedis, writeRedisUsers } from './demo-redis.js';
import type { DemoUpstream } from './demo-upstream.js';
import { portOrAny } from './free-port.js';
import { OwnedProcesses } from './owned-processes.js';
import { shellWord, sftpLine } from './sftp-line.js';
import { startUpstream } from './start-upstream.js';

export interface ProxyDemoOptions {
  /** The demo's folder (./demo); this demo uses its proxy/ subfolder. */
  dir: string;
  /** Port asked for (5022); another free one if it is taken. */
  port: number;
  redis: boolean;
  logPretty: boolean;
  /** Upstreams in pysftpproxy's local mode even where sshd exists (to test that path). */
  localUpstreams?: boolean;
}

interface DemoUser {
  name: string;
  key: DemoKey;
  permissions: string;
  upstream: DemoUpstream;
  label: string;
}

function route(u: DemoUser): Record<string, string> {
  return { remote: '127.0.0.1', port: String(u.upstream.port), user: u.upstream.user, hostkey: u.upstream.hostKeyFingerprint };
}

/** Starts everything and prints how to use it; resolves with the function that stops it all. */
export async function runProxyDemo(o: ProxyDemoOptions): Promise<() => Promise<void>> {
  const dir = path.join(o.dir, 'proxy');
  fs.mkdirSync(dir, { recursive: true });
  const log = createLogger({ logLevel: 'info', logPretty: o.logPretty });
  const owned = new OwnedProcesses();
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await owned.stopAll();
  };
  try {
    const proxyKey = demoKey(path.join(dir, 'proxy_upstream_ed25519'), 'pysftpproxy-demo-proxy');
    const upstreams: DemoUpstream[] = [];
    for (const label of ['A', 'B']) {
      const up = await startUpstream({ dir: path.join(dir, `upstream-${label.toLowerCase()}`), label, proxyKeyLine: proxyKey.publicLine,
        log, logPretty: o.logPretty, owned }, o.localUpstreams);
      stops.push(up.stop);
      upstreams.push(up);
    }
    const users: DemoUser[] = [
      { name: 'alice', key: demoKey(path.join(dir, 'alice_ed25519'), 'alice@pysftpproxy-demo'), permissions: '*', upstream: upstreams[0]!, label: 'A' },
      { name: 'bob', key: demoKey(path.join(dir, 'bob_ed25519'), 'bob@pysftpproxy-demo'), permissions: 'read-only', upstream: upstreams[1]!, label: 'B' },
    ];

    const storeArgs = o.redis ? await redisStore(dir, owned, users) : fileStore(dir, users);
    const port = await portOrAny(o.port);
    const dataDir = path.join(dir, 'data');
    // Upstream host keys pinned in each route (strict): no first-use trust, and no Redis needed for pins.
    const loaded = loadConfig(['--mode', 'proxy', '--listen', '127.0.0.1', '--port', String(port), ...storeArgs,
      '--client-key-path', proxyKey.privatePath, '--upstream-hostkeys', 'strict', '--data-dir', dataDir,
      `--log-pretty=${o.logPretty}`], {}, dir);
    if (loaded.kind !== 'run') throw new Error('unexpected --help');
    const running = await start(loaded.config, log);
    stops.push(() => running.stop());

    const knownHosts = path.join(dir, 'known_hosts');
    const hostLine = fs.readFileSync(loadHostKey(loaded.config).path + '.pub', 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    fs.writeFileSync(knownHosts, `[localhost]:${running.port} ${hostLine}\n[127.0.0.1]:${running.port} ${hostLine}\n`);
    printInstructions(running.port, users, knownHosts, o.redis ? 'a private redis-server, pysftpproxy schema, db 1' :
      `the users file ${rel(path.join(dir, 'users.json'))}`);
    return stopAll;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function fileStore(dir: string, users: readonly DemoUser[]): string[] {
  const file = path.join(dir, 'users.json');
  const entries = Object.fromEntries(users.map((u) => [u.name, { keys: [u.key.publicLine], route: route(u), permissions: u.permissions }]));
  fs.writeFileSync(file, JSON.stringify({ users: entries }, null, 2) + '\n');
  return ['--store', `file:${file}`];
}

async function redisStore(dir: string, owned: OwnedProcesses, users: readonly DemoUser[]): Promise<string[]> {
  const { port } = await startDemoRedis(path.join(dir, 'redis'), owned);
  await writeRedisUsers(port, users.map((u) => ({ name: u.name, blob: u.key.blob, route: { ...route(u), permissions: u.permissions } })));
  return ['--store', 'redis', '--redis-host', '127.0.0.1', '--redis-port', String(port), '--redis-db', String(REDIS_DB)];
}

const rel = (p: string) => shellWord(path.relative(process.cwd(), p) || '.');

function printInstructions(port: number, users: readonly DemoUser[], knownHosts: string, source: string): void {
  const lines = ['', `pysftpproxy demo: the proxy on 127.0.0.1:${port} routes each user by their key to their own upstream (users from ${source}):`];
  for (const u of users) {
    lines.push(`  ${u.name} (${u.permissions === '*' ? 'read-write' : u.permissions}) -> upstream ${u.label}, ${u.upstream.kind} on 127.0.0.1:${u.upstream.port}; ` +
      `files land in ${rel(u.upstream.files)}`);
  }
  for (const u of users) {
    lines.push('', `Log in as ${u.name}:`, '', sftpLine(port, rel(u.key.privatePath), rel(knownHosts), u.name));
  }
  lines.push(
    '',
    'Try: `put` a file as alice and find it under upstream A\'s folder above; `ls` as bob lists upstream B\'s.',
    'bob is "read-only": his `get` works, his `put`, `rm` and `mkdir` get "Permission denied" from the proxy itself',
    '(the upstream never sees them).',
    'In the log: "login accepted" names the user, the key\'s fingerprint, the upstream the login was routed to and the',
    'permissions; then "upstream connected" (ms to reach it); an "audit" line per file operation (event upload, download,',
    'remove, rename, mkdir, ..., or denied, with the path, bytes and ms); and "session end" (file bytes each way).',
    'Ctrl-C stops the proxy and everything it started.',
    '',
  );
  process.stdout.write(lines.join('\n') + '\n');
}
