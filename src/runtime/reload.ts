// SIGHUP: read the configuration again (config file, environment and .env, the same flags) and
// take what may change while running: the options marked `live` in the option table, and the host
// key for new connections. Anything else that changed is named in the log as needing a restart.
// A configuration that does not load keeps the running one.
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { OPTIONS, type Config } from '../config/options.js';

export type Reloaded =
  | { ok: true; config: Config; changed: string[]; needsRestart: string[] }
  | { ok: false; error: string };

export function reloadConfig(argv: readonly string[], running: Config): Reloaded {
  let fresh: Config;
  try {
    const loaded = loadConfig(argv);
    if (loaded.kind !== 'run') return { ok: false, error: 'the command line asks for --help or --version' };
    fresh = loaded.config;
  } catch (err) {
    return { ok: false, error: err instanceof ConfigError ? err.message : String(err) };
  }
  const next: Record<string, unknown> = { ...running };
  const changed: string[] = [];
  const needsRestart: string[] = [];
  for (const o of OPTIONS) {
    if (JSON.stringify(fresh[o.key]) === JSON.stringify(running[o.key])) continue;
    if (o.live) {
      next[o.key] = fresh[o.key];
      changed.push(`--${o.flag}`);
    } else {
      needsRestart.push(`--${o.flag}`);
    }
  }
  return { ok: true, config: next as Config, changed, needsRestart };
}
