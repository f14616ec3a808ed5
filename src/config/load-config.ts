// Builds the typed Config: defaults < INI file (--config) < environment and ./.env < flags.
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { parseCliArgs } from './cli-args.js';
import { ConfigError } from './config-error.js';
import { readIniFile } from './ini-file.js';
import { OPTIONS, type Config, type OptionSpec } from './options.js';
import { expandPath, parseValue } from './parse-value.js';
import { parsePermissions } from '../policy/permissions.js';

export type LoadResult =
  | { kind: 'run'; config: Config }
  | { kind: 'help' }
  | { kind: 'version' };

/** Environment as the process sees it, plus `.env` in `cwd` for names the environment lacks. */
function environment(env: NodeJS.ProcessEnv, cwd: string): NodeJS.ProcessEnv {
  const file = path.join(cwd, '.env');
  if (!fs.existsSync(file)) return env;
  return { ...dotenv.parse(fs.readFileSync(file)), ...env };
}

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadResult {
  const cli = parseCliArgs(argv);
  if (cli.help) return { kind: 'help' };
  if (cli.version) return { kind: 'version' };
  const fullEnv = environment(env, cwd);

  const raw = new Map<OptionSpec, { value: string; source: string }>();
  const configFile = cli.configFile ?? fullEnv['SFTPPROXY_CONFIG'];
  if (configFile) for (const [spec, v] of readIniFile(expandPath(configFile))) raw.set(spec, v);
  for (const spec of OPTIONS) {
    const value = fullEnv[spec.env];
    if (value !== undefined && value !== '') raw.set(spec, { value, source: spec.env });
  }
  for (const [spec, value] of cli.values) raw.set(spec, { value, source: `--${spec.flag}` });

  const set: Record<string, unknown> = {};
  for (const [spec, { value, source }] of raw) set[spec.key] = parseValue(spec, value, source);

  const mode = (set['mode'] as Config['mode'] | undefined) ?? 'proxy';
  const config = { ...defaults(mode), ...set } as Config;
  checkCombinations(config);
  return { kind: 'run', config };
}

/** Every option's default for `mode`, from the option table (options without one stay unset). */
export function defaults(mode: Config['mode']): Partial<Config> {
  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const d = spec.default as unknown;
    if (d === undefined) continue;
    const value = typeof d === 'function' ? (d as (m: string) => unknown)(mode) : d;
    out[spec.key] = spec.type === 'path' && typeof value === 'string' ? expandPath(value) : value;
  }
  return out as Partial<Config>;
}

/** Rules that involve more than one option. */
function checkCombinations(c: Config): void {
  for (const [key, flag] of [['privatekeyPath', 'privatekey-path'], ['publickeyPath', 'publickey-path'],
    ['clientKeyPath', 'client-key-path'], ['knownHosts', 'known-hosts']] as const) {
    const file = c[key];
    if (file && !fs.existsSync(file)) {
      throw new ConfigError(`--${flag} ${file}: no such file; give the path of an existing file or leave the option unset`);
    }
  }
  if (c.redisUrl) checkRedisUrl(c.redisUrl);
  const perms = parsePermissions(c.permissions);
  if (!perms.ok) throw new ConfigError(`--permissions ${JSON.stringify(c.permissions)}: ${JSON.stringify(perms.word)}: ${perms.problem}`);
  checkSentinels(c);
  if (c.publickeyPath && !c.privatekeyPath) {
    throw new ConfigError('--publickey-path is set without --privatekey-path: set both, or neither to use a generated host key');
  }
}

/** Sentinel mode needs its group name, and replaces (never mixes with) a fixed Redis address. */
function checkSentinels(c: Config): void {
  if (c.redisSentinels) {
    if (c.redisUrl) {
      throw new ConfigError('--redis-sentinels and --redis-url are both set: the sentinels name the master, so leave --redis-url ' +
        'unset (the database is --redis-db, the master\'s password --redis-password)');
    }
    if (!c.redisSentinelName) {
      throw new ConfigError('--redis-sentinels needs --redis-sentinel-name (SFTPPROXY_REDIS_SENTINEL_NAME): the master group name ' +
        'of the sentinels\' "sentinel monitor NAME ..." line');
    }
    if (/[\s\x00-\x1f\x7f]/.test(c.redisSentinelName)) {
      throw new ConfigError('--redis-sentinel-name must not contain spaces or control characters');
    }
    return;
  }
  for (const [key, flag] of [['redisSentinelName', 'redis-sentinel-name'], ['redisSentinelPassword', 'redis-sentinel-password']] as const) {
    if (c[key]) throw new ConfigError(`--${flag} is set without --redis-sentinels: give the sentinels' HOST:PORT list, or unset it`);
  }
}

/** redis://[:password@]host[:port][/db] (or rediss://); the message never repeats a password. */
function checkRedisUrl(raw: string): void {
  const expected = 'expected redis://[:password@]host[:port][/db] or rediss://...';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`--redis-url (SFTPPROXY_REDIS_URL) is not a URL: ${expected}`);
  }
  if (url.password) url.password = '***';
  const shown = url.toString();
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`--redis-url ${shown}: scheme ${url.protocol} is not valid: ${expected}`);
  }
  if (!url.hostname) throw new ConfigError(`--redis-url ${shown}: no host: ${expected}`);
  if (!/^(\/(\d+)?)?$/.test(url.pathname)) throw new ConfigError(`--redis-url ${shown}: the database must be a number: ${expected}`);
}
