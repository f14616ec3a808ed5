// Command-line flags: `--name value`, `--name=value`, and bare `--flag` for booleans.
import { ConfigError } from './config-error.js';
import { OPTIONS, type OptionSpec } from './options.js';

export interface CliArgs {
  /** Raw option values keyed by flag name. */
  values: Map<OptionSpec, string>;
  configFile?: string;
  help: boolean;
  version: boolean;
}

const byFlag = new Map(OPTIONS.map((o) => [o.flag, o]));

export function parseCliArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { values: new Map(), help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { out.help = true; continue; }
    if (arg === '-V' || arg === '--version') { out.version = true; continue; }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: options are --name value (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = byFlag.get(name);
    if (name !== 'config' && !spec) throw new ConfigError(`unknown option --${name} (see --help for the list)`);
    if (value === undefined) {
      if (spec?.type === 'bool') value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(`--${name} needs a value (see --help)`);
      }
    }
    if (spec) out.values.set(spec, value);
    else out.configFile = value;
  }
  return out;
}
