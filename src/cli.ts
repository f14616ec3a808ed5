// Command-line entry: configuration errors are one line and exit 2; no stack traces for operators.
// `pysftpproxy users|keys ...` (src/admin/commands.ts) manage the store; anything else runs the server.
// First: SIGHUP is held from here on, so one during the start cannot kill the process.
import { releaseSighup } from './runtime/sighup.js';
import cluster from 'node:cluster';
import fs from 'node:fs';
import { ADMIN_COMMANDS, adminCommand } from './admin/commands.js';
import { ConfigError } from './config/config-error.js';
import { helpText } from './config/help-text.js';
import { loadConfig } from './config/load-config.js';
import { createLogger, type Logger } from './log/logger.js';
import { writePidfile } from './runtime/pidfile.js';
import { serve } from './runtime/serve.js';
import { runPrimary, workerNumber } from './runtime/workers.js';

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function die(message: string, code: number): never {
  process.stderr.write(`pysftpproxy: ${message}\n`);
  process.exit(code);
}

function commandsHelp(): string {
  const lines = ['', 'Commands (each with --help), against the store configured as above:'];
  for (const [name, c] of Object.entries(ADMIN_COMMANDS)) lines.push(`  pysftpproxy ${name} ...`, `      ${c.summary}`);
  return lines.join('\n') + '\n';
}

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const admin = adminCommand(argv[0]);
  if (admin) {
    releaseSighup();
    process.exitCode = await admin.run(argv.slice(1), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
    return;
  }
  let loaded;
  try {
    loaded = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) die(err.message, 2);
    throw err;
  }
  if (loaded.kind === 'help') return void process.stdout.write(helpText(version()) + commandsHelp());
  if (loaded.kind === 'version') return void process.stdout.write(`pysftpproxy ${version()}\n`);
  const config = loaded.config;
  const worker = workerNumber();
  const log = worker === undefined ? createLogger(config) : createLogger(config).child({ worker });
  reportStrayErrors(log);

  if (config.workers > 1 && cluster.isPrimary) {
    try {
      // Before the workers start: their 'listening' lines must find the primary's pid in it.
      const removePidfile = config.pidfile ? writePidfile(config.pidfile) : () => {};
      process.on('exit', removePidfile);
      await runPrimary(process.argv.slice(2), config, log);
    } catch (err) {
      if (err instanceof ConfigError) die(err.message, 2);
      if ((err as NodeJS.ErrnoException).code === 'ADMIN_LISTEN') die(`${(err as Error).message}; choose another --admin-listen`, 1);
      throw err;
    }
    return;
  }

  try {
    await serve(process.argv.slice(2), config, log);
  } catch (err) {
    if (err instanceof ConfigError) die(err.message, 2);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ADMIN_LISTEN') die(`${e.message}; choose another --admin-listen`, 1);
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      die(`cannot listen on ${config.listen}:${config.port} (${e.code}); choose another --port/--listen`, 1);
    }
    throw err;
  }
}

/**
 * Every handler of client input turns its failures into a refusal of that request or connection,
 * so an error that reaches the process is a bug. It is logged loudly ("bug: ..."; the test
 * harness fails any test whose product logs one) and the process keeps serving: exiting would
 * cut every other user's transfer for one connection's fault.
 */
function reportStrayErrors(log: Logger): void {
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'bug: unhandled promise rejection (the server keeps running)'));
  process.on('uncaughtException', (err) => log.error({ err }, 'bug: uncaught exception (the server keeps running)'));
}

run().catch((err: unknown) => {
  process.stderr.write(`pysftpproxy: fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
