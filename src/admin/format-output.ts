// What the admin commands print: a table or `key value` lines for people, JSON for scripts.
// Stored data may hold anything (names, comments): control characters are escaped before they
// reach a terminal. Keys are shown by fingerprint, never whole.
import type { RouteDefaults } from '../auth/parse-route.js';
import { parseRoute } from '../auth/parse-route.js';
import type { AdminKey } from './key-argument.js';
import type { ChangeResult, UserRecord } from './user-record.js';

/** Control characters made visible (`\n`, `\u001b`), so stored text cannot move the cursor or forge a line. */
export function safe(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Where a user's sessions go, as the server would route them (its defaults applied). */
export function targetText(u: UserRecord, defaults: RouteDefaults): string {
  if (u.kind === 'folder') return u.folder === undefined ? '(folder assigned by the server)' : `folder ${safe(u.folder)}`;
  const route = parseRoute((u.route ?? {}) as Record<string, string>, defaults);
  if ('error' in route) return `bad route: ${safe(route.error)}`;
  return `${safe(route.user)}@${route.host.includes(':') ? `[${route.host}]` : route.host}:${route.port}${route.home ? ` ${safe(route.home)}` : ''}`;
}

const permissionsText = (u: UserRecord): string => safe(u.permissions ?? '*');

export function usersTable(users: UserRecord[], defaults: RouteDefaults, withIds: boolean): string {
  const header = [...(withIds ? ['ID'] : []), 'NAME', 'ACTIVE', 'KEYS', 'TARGET', 'PERMISSIONS'];
  const rows = users.map((u) => [
    ...(withIds ? [safe(u.id ?? '')] : []),
    safe(u.name),
    u.active ? 'yes' : 'no',
    String(u.keys.length),
    targetText(u, defaults),
    permissionsText(u) + (u.problems.length > 0 ? `  (${u.problems.length} problem${u.problems.length > 1 ? 's' : ''}: users show)` : ''),
  ]);
  return table([header, ...rows]) + (users.length === 0 ? '(no users)\n' : '');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd() + '\n').join('');
}

export function keyText(k: AdminKey): string {
  return `${k.fingerprint}  ${safe(k.algo)}${k.comment ? `  ${safe(k.comment)}` : ''}`;
}

export function userDetails(u: UserRecord, defaults: RouteDefaults): string {
  const lines: Array<[string, string]> = [['name', safe(u.name)]];
  if (u.id !== undefined) lines.push(['id', safe(u.id)]);
  lines.push(['active', u.active ? 'yes' : 'no (disabled: logins refused)']);
  if (u.kind === 'route') lines.push(['route', targetText(u, defaults)]);
  else lines.push(['folder', u.folder === undefined ? '(assigned by the server when it reads the user)' : safe(u.folder)]);
  lines.push(['permissions', permissionsText(u)]);
  if (u.keys.length === 0) lines.push(['keys', '(none: no login possible)']);
  for (const k of u.keys) lines.push(['key', keyText(k)]);
  lines.push(['stored in', safe(u.location)]);
  for (const p of u.problems) lines.push(['problem', safe(p)]);
  return lines.map(([k, v]) => `${k.padEnd(12)}${v}\n`).join('');
}

export function keyJson(k: AdminKey): Record<string, string> {
  return { fingerprint: k.fingerprint, type: k.algo, ...(k.comment ? { comment: k.comment } : {}) };
}

export function userJson(u: UserRecord): Record<string, unknown> {
  return {
    name: u.name,
    ...(u.id !== undefined ? { id: u.id } : {}),
    active: u.active,
    ...(u.kind === 'route' ? { route: u.route ?? {} } : { folder: u.folder ?? null }),
    permissions: u.permissions ?? '*',
    keys: u.keys.map(keyJson),
    location: u.location,
    problems: u.problems,
  };
}

/** The tail of a change's one line: the notice it published and any notes. */
export function changeText(r: ChangeResult): string {
  const parts = [...(r.notice ? [`announced ${JSON.stringify(r.notice.message)} on ${r.notice.channel}`] : []), ...r.notes];
  return parts.length > 0 ? `; ${parts.map(safe).join('; ')}` : '';
}
