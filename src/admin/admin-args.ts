// The admin command line: `pysftpproxy users|keys SUBCOMMAND ARGS... [--option value ...]`.
// Options of the subcommand (--key, --remote, --port, --json, ...) are taken here; every other
// --flag is a server option (--store, --mode, --redis-*, --config, ...) and goes to loadConfig,
// so the admin commands find the store exactly as the server does. Note that --port and --home
// here are the route's, not the server's listening port or default home.
import { OPTIONS } from '../config/options.js';
import { refuse } from './admin-error.js';
import { FIELD_NAMES, type FieldName } from './user-fields.js';

export type AdminOption = FieldName | 'key' | 'id' | 'json';

export interface SubcommandSpec<C> {
  /** After the command word, e.g. `add NAME --key FILE|LINE [--remote HOST ...]`. */
  usage: string;
  summary: string;
  /** Positional arguments: exactly `min`, or from `min` up to `max` (Infinity: any number). */
  args: { min: number; max: number };
  options: readonly AdminOption[];
  run(req: AdminRequest, ctx: C): Promise<void>;
}

export interface AdminRequest {
  sub: string;
  positionals: string[];
  /** Admin option values in the order given (--key may be repeated). */
  values: Map<AdminOption, string[]>;
  json: boolean;
  /** The server options, for loadConfig. */
  configArgv: string[];
}

export type Parsed = { kind: 'help'; sub?: string } | { kind: 'run'; request: AdminRequest };

const ALL_OPTIONS: readonly AdminOption[] = [...FIELD_NAMES, 'key', 'id', 'json'];
const REPEATABLE = new Set<AdminOption>(['key']);
const configFlags = new Map(OPTIONS.map((o) => [o.flag, o.type === 'bool'] as const));
configFlags.set('config', false);

export function parseAdminArgs<C>(command: string, argv: readonly string[], subs: Readonly<Record<string, SubcommandSpec<C>>>): Parsed {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') return { kind: 'help' };
  const spec = Object.hasOwn(subs, sub) ? subs[sub]! : undefined;
  if (!spec) refuse(`${command} ${JSON.stringify(sub)}: unknown subcommand; use ${Object.keys(subs).join(', ')} (pysftpproxy ${command} --help)`);
  const request: AdminRequest = { sub, positionals: [], values: new Map(), json: false, configArgv: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help', sub };
    if (arg === '--') {
      request.positionals.push(...rest.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      request.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    if ((ALL_OPTIONS as string[]).includes(name)) {
      const option = name as AdminOption;
      if (!spec.options.includes(option)) refuse(`--${name} is not an option of \`${command} ${sub}\` (pysftpproxy ${command} --help)`);
      if (option === 'json') {
        request.json = true;
        continue;
      }
      const value = inline ?? rest[++i];
      if (value === undefined) refuse(`--${name} needs a value`);
      const values = request.values.get(option) ?? [];
      if (values.length > 0 && !REPEATABLE.has(option)) refuse(`--${name} given twice`);
      request.values.set(option, [...values, value]);
      continue;
    }
    const isBool = configFlags.get(name);
    if (isBool === undefined) refuse(`unknown option --${name} for \`${command} ${sub}\` (pysftpproxy ${command} --help; server options: pysftpproxy --help)`);
    request.configArgv.push(arg);
    if (!isBool && inline === undefined) {
      const value = rest[++i];
      if (value === undefined) refuse(`--${name} needs a value`);
      request.configArgv.push(value);
    }
  }
  const n = request.positionals.length;
  if (n < spec.args.min || n > spec.args.max) refuse(`usage: pysftpproxy ${command} ${spec.usage}`);
  return { kind: 'run', request };
}
