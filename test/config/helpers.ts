/** loadConfig as the config tests call it: a run config, or a one-line ConfigError. */
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/options.js';

/** The config loadConfig builds from `argv` and `env` in `cwd` (which must be a run, not help). */
export function runConfig(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Config {
  const r = loadConfig(argv, env, cwd);
  assert.equal(r.kind, 'run');
  return (r as { kind: 'run'; config: Config }).config;
}

/** loadConfig throws a ConfigError whose message is one line and matches every pattern. */
export function rejectsConfig(argv: string[], env: NodeJS.ProcessEnv, cwd: string, ...patterns: RegExp[]): string {
  let message = '';
  assert.throws(() => loadConfig(argv, env, cwd), (err: Error) => {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${err.stack}`);
    message = err.message;
    return true;
  });
  assert.doesNotMatch(message, /\n/, `more than one line: ${message}`);
  for (const p of patterns) assert.match(message, p);
  return message;
}
