// `pysftpproxy users --help`, `pysftpproxy keys --help`: from the subcommand and field tables.
import type { SubcommandSpec } from './admin-args.js';
import { FIELD_NAMES, FIELDS } from './user-fields.js';

export function adminHelp<C>(command: string, subs: Readonly<Record<string, SubcommandSpec<C>>>, only?: string): string {
  const lines = [`Usage: pysftpproxy ${command} SUBCOMMAND ... [server options]`, ''];
  for (const [name, spec] of Object.entries(subs)) {
    if (only && name !== only) continue;
    lines.push(`  pysftpproxy ${command} ${spec.usage}`, `      ${spec.summary}`);
  }
  if (command === 'users') {
    lines.push('', 'Fields (users add --FIELD VALUE; users set NAME FIELD=VALUE, an empty VALUE removes it):');
    for (const f of FIELD_NAMES) lines.push(`  ${f.padEnd(15)}${FIELDS[f].help}`);
  }
  lines.push(
    '',
    'FILE|LINE: a .pub file, or the key line itself in quotes. Keys are shown by SHA256 fingerprint.',
    'The store is the server\'s, found the same way: --store, --mode, --redis-*, --sftp-path, --config,',
    'SFTPPROXY_* and ./.env (see pysftpproxy --help). Here --port and --home are the route\'s fields.',
    'Every change is announced on --redis-channel (user names in proxy mode, solt ids in local mode);',
    'a users file is replaced atomically and reloaded by the server on its own.',
    'Exit status: 0 done, 2 refused (one line on stderr, nothing written), 1 store unavailable.',
  );
  return lines.join('\n') + '\n';
}
