// `pysftpproxy bans list|remove`: the brute-force defender's bans, where the server keeps them
// (ban-source.ts). Lifting a ban applies to the next connection of every instance and worker:
// they ask the same place at each accept.
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { parseBanTarget } from '../ops/ban-key.js';
import type { BanRecord } from '../ops/shared-state.js';
import { RefusedError, StoreError, refuse } from './admin-error.js';
import { parseAdminArgs, type AdminRequest, type SubcommandSpec } from './admin-args.js';
import type { AdminIo } from './admin-context.js';
import type { BanSource } from './ban-source.js';
import { openBanSource } from './open-ban-source.js';
import { safe } from './format-output.js';

interface BansContext {
  bans: BanSource;
  io: AdminIo;
}

const when = (ms: number): string => (ms > 0 ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : '?');

function left(b: BanRecord, now: number): string {
  if (b.until <= 0) return '?';
  const s = Math.max(0, Math.round((b.until - now) / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd() + '\n').join('');
}

async function list(req: AdminRequest, ctx: BansContext): Promise<void> {
  const now = Date.now();
  const bans = (await ctx.bans.list()).sort((a, b) => a.since - b.since || a.ip.localeCompare(b.ip));
  if (req.json) {
    ctx.io.out(JSON.stringify(bans.map((b) => ({ address: b.ip, score: b.score, since: when(b.since), until: when(b.until) })), null, 2) + '\n');
    return;
  }
  if (bans.length === 0) return ctx.io.out(`(no bans in ${ctx.bans.where})\n`);
  ctx.io.out(table([['ADDRESS', 'SCORE', 'SINCE', 'UNTIL', 'LEFT'],
    ...bans.map((b) => [safe(b.ip), String(b.score), when(b.since), when(b.until), left(b, now)])]));
}

async function remove(req: AdminRequest, ctx: BansContext): Promise<void> {
  const arg = req.positionals[0]!;
  const key = parseBanTarget(arg) ?? refuse(`${JSON.stringify(safe(arg))} is not an IP address (nor an IPv6 /64 as \`bans list\` shows it)`);
  if (!(await ctx.bans.lift(key))) refuse(`${key} is not banned (${ctx.bans.where})`);
  const named = key === arg.trim() ? '' : ` (the ban of ${safe(arg.trim())})`;
  ctx.io.out(`lifted the ban on ${key}${named} in ${ctx.bans.where}\n`);
}

const SUBCOMMANDS: Readonly<Record<string, SubcommandSpec<BansContext>>> = {
  list: { usage: 'list [--json]', summary: 'addresses banned now: score, since, until', args: { min: 0, max: 0 }, options: ['json'], run: list },
  remove: {
    usage: 'remove ADDRESS', summary: 'lift a ban at once (an IPv6 address lifts its /64\'s ban)', args: { min: 1, max: 1 }, options: [], run: remove,
  },
};

function help(): string {
  return [
    'Usage: pysftpproxy bans SUBCOMMAND ... [server options]', '',
    ...Object.values(SUBCOMMANDS).flatMap((s) => [`  pysftpproxy bans ${s.usage}`, `      ${s.summary}`]), '',
    'The bans are read where the server keeps them: in Redis when its store uses Redis (--store,',
    '--redis-*: shared by every instance), otherwise in the running server\'s memory, through its',
    'admin endpoint (--admin-listen HOST:PORT). Give the server\'s own options, or its --config.',
    'Exit status: 0 done, 2 refused (one line on stderr), 1 Redis or the server unreachable.',
  ].join('\n') + '\n';
}

export async function runBansCommand(argv: readonly string[], io: AdminIo): Promise<number> {
  try {
    const parsed = parseAdminArgs('bans', argv, SUBCOMMANDS);
    if (parsed.kind === 'help') {
      io.out(help());
      return 0;
    }
    const { request } = parsed;
    const loaded = loadConfig(request.configArgv);
    if (loaded.kind !== 'run') {
      io.out(help());
      return 0;
    }
    const bans = await openBanSource(loaded.config);
    try {
      await SUBCOMMANDS[request.sub]!.run(request, { bans, io });
    } finally {
      await bans.close();
    }
    return 0;
  } catch (err) {
    const refused = err instanceof RefusedError || err instanceof ConfigError;
    if (!refused && !(err instanceof StoreError)) throw err;
    io.err(`pysftpproxy: ${safe(err.message)}\n`);
    return refused ? 2 : 1;
  }
}
