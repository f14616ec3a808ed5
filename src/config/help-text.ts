// --help, generated from the option table so it cannot drift from what is accepted.
import { OPTIONS } from './options.js';

export function helpText(version: string): string {
  const lines = [
    `pysftpproxy ${version}: SFTP reverse proxy and server`,
    '',
    'Usage: pysftpproxy [--config FILE] [--option value ...]',
    '',
    'Precedence: defaults < config file ([options] section) < environment and ./.env < flags.',
    '',
    '  --config FILE (SFTPPROXY_CONFIG)',
    '      INI file with an [options] section; keys are the flag names (or the original solt_sftp names)',
  ];
  for (const o of OPTIONS) {
    const placeholder: Partial<Record<string, string>> = { hostport: 'HOST:PORT', hostports: 'HOST:PORT,...', addresses: 'CIDR,...', list: 'A,B,...' };
    const value = o.type === 'bool' ? '' : o.type === 'enum' && o.choices ? ` ${o.choices.join('|')}` : ` ${placeholder[o.type] ?? o.type.toUpperCase()}`;
    const aliases = o.iniAliases?.length ? `; in INI also ${o.iniAliases.join(', ')}` : '';
    lines.push(`  --${o.flag}${value} (${o.env})`);
    const shown = o.defaultText ?? (o.default === undefined ? undefined : Array.isArray(o.default) ? o.default.join(',') : String(o.default));
    lines.push(`      ${o.help}${shown !== undefined ? ` [default: ${shown}]` : ''}${aliases}`);
  }
  lines.push('', '  --help, --version');
  return lines.join('\n') + '\n';
}
