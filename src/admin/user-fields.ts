// The fields an operator edits, by the names the command line uses (`users add --NAME VALUE`,
// `users set NAME FIELD=VALUE`), and where each lives in the stores. The command line says
// `upstream-user` and `upstream-key` where the route schema says `user` and `key`: next to
// `keys add`, a bare "key" would be ambiguous.
import { refuse } from './admin-error.js';
import type { RouteName } from './user-record.js';

export type FieldName = 'remote' | 'port' | 'upstream-user' | 'home' | 'upstream-key' | 'hostkey' | 'folder' | 'permissions';

export interface FieldSpec {
  /** The stored route field, for route fields. */
  route?: RouteName;
  help: string;
}

export const FIELDS: Readonly<Record<FieldName, FieldSpec>> = {
  remote: { route: 'remote', help: 'upstream host name or address (proxy mode, required)' },
  port: { route: 'port', help: 'upstream port (default 22)' },
  'upstream-user': { route: 'user', help: 'login name upstream (default --client-user)' },
  home: { route: 'home', help: 'start directory upstream (default --home)' },
  'upstream-key': { route: 'key', help: 'absolute path of a private key for this user\'s upstream login (default --client-key-path)' },
  hostkey: { route: 'hostkey', help: 'pinned upstream host key, SHA256:...' },
  folder: { help: 'local mode: the user\'s folder, a directory name under --sftp-path (users file: or an absolute path)' },
  permissions: { help: 'comma-separated: list, download, upload, overwrite, delete, rename, mkdir, symlink, chmod; * or read-only' },
};

export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];
export const ROUTE_FIELD_NAMES = FIELD_NAMES.filter((f) => FIELDS[f].route !== undefined);

/** Spellings `users set` also accepts: the stored names. */
const ALIASES: Readonly<Record<string, FieldName>> = { user: 'upstream-user' };

export function fieldByName(name: string): FieldName | undefined {
  const n = name.toLowerCase();
  return (FIELD_NAMES as string[]).includes(n) ? (n as FieldName) : ALIASES[n];
}

/** `FIELD=VALUE` (an empty value removes the field); refused with the list of fields otherwise. */
export function parseAssignment(arg: string): { field: FieldName; value: string | null } {
  const eq = arg.indexOf('=');
  if (eq <= 0) refuse(`${JSON.stringify(arg)}: expected FIELD=VALUE, with FIELD one of ${FIELD_NAMES.join(', ')}`);
  const raw = arg.slice(0, eq).trim();
  const value = arg.slice(eq + 1).trim();
  if (raw === 'key') refuse('"key": public keys are changed with `pysftpproxy keys add|remove`; the upstream login key is upstream-key=PATH');
  if (raw === 'active') refuse('"active": use `pysftpproxy users disable|enable NAME`');
  if (raw === 'name') refuse('"name": renaming is not supported; add the user under the new name and remove the old one');
  const field = fieldByName(raw);
  if (!field) refuse(`unknown field ${JSON.stringify(raw)}: use one of ${FIELD_NAMES.join(', ')}`);
  return { field, value: value === '' ? null : value };
}
