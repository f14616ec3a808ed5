// `npm run demo`: the proxy routing two users to two upstreams (proxy-demo.ts);
// `npm run demo -- --redis`: the same with its users in a private redis-server;
// `npm run demo -- --local`: local mode serving a folder (local-demo.ts).
// Ctrl-C or SIGTERM stops everything it started. DEMO_DIR, DEMO_PORT, DEMO_LOG_JSON and
// DEMO_UPSTREAMS=local (no sshd even if there is one) are for tests.
import path from 'node:path';
import { redisServerOnPath } from './demo-redis.js';
import { runLocalDemo } from './local-demo.js';
import { runProxyDemo } from './proxy-demo.js';

const USAGE = 'usage: npm run demo [-- --redis | -- --local]';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--redis' && a !== '--local');
  if (unknown.length > 0 || (args.includes('--redis') && args.includes('--local'))) {
    process.stderr.write(`demo: ${unknown.length > 0 ? `unknown argument ${unknown[0]}` : '--redis and --local do not go together'}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.includes('--redis') && !redisServerOnPath()) {
    process.stderr.write('demo: --redis needs redis-server on the PATH (Debian: apt-get install redis-server); without it, leave out --redis\n');
    process.exit(2);
  }
  // Handlers first: a signal while the demo starts still stops whatever it started by then.
  let stop: (() => Promise<void>) | undefined;
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    if (stop) void stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const dir = path.resolve(process.env['DEMO_DIR'] ?? 'demo');
  const logPretty = !process.env['DEMO_LOG_JSON'];
  const local = args.includes('--local');
  const port = Number(process.env['DEMO_PORT'] ?? (local ? 2200 : 5022));
  stop = local ? await runLocalDemo({ dir, port, logPretty }) : await runProxyDemo({ dir, port, redis: args.includes('--redis'), logPretty,
    localUpstreams: process.env['DEMO_UPSTREAMS'] === 'local' });
  if (stopping) void stop().finally(() => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
