// The INI config file: options live in its `[options]` section, under the flag name with `-` or `_`,
// or an alias kept from the original solt_sftp / pysftpproxy files (sftp_port, redis_dbindex, ...).
import fs from 'node:fs';
import ini from 'ini';
import { ConfigError } from './config-error.js';
import { OPTIONS, type OptionSpec } from './options.js';

const byIniName = new Map<string, OptionSpec>();
for (const o of OPTIONS) {
  for (const name of [o.flag, o.flag.replaceAll('-', '_'), ...(o.iniAliases ?? [])]) byIniName.set(name, o);
}

export function readIniFile(file: string): Map<OptionSpec, { value: string; source: string }> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const section = ini.parse(text)['options'] as Record<string, unknown> | undefined;
  if (!section || typeof section !== 'object') {
    throw new ConfigError(`--config ${file}: no [options] section; put settings under a line "[options]"`);
  }
  const out = new Map<OptionSpec, { value: string; source: string }>();
  for (const [name, value] of Object.entries(section)) {
    const spec = byIniName.get(name.toLowerCase());
    if (!spec) throw new ConfigError(`--config ${file}: unknown option "${name}" in [options] (see --help for the list)`);
    out.set(spec, { value: String(value), source: `${name} in ${file}` });
  }
  return out;
}
