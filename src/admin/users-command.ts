// `pysftpproxy users add|set|remove|show|list|disable|enable`: what the operator typed is checked
// here (names, keys, route, permissions) with the stores' own parsers; the writer then checks what
// only the store knows and writes, with the change notice.
import { refuse } from './admin-error.js';
import type { SubcommandSpec, AdminRequest } from './admin-args.js';
import { routeDefaults, type AdminContext } from './admin-context.js';
import { checkedId, findUser } from './find-user.js';
import { changeText, targetText, userDetails, userJson, usersTable } from './format-output.js';
import { readKeyArgument, type AdminKey } from './key-argument.js';
import { FIELD_NAMES, FIELDS, parseAssignment, ROUTE_FIELD_NAMES, type FieldName } from './user-fields.js';
import type { NewUser, RouteFields, TargetKind, UserChanges, UserRecord } from './user-record.js';
import type { UserWriter } from './user-writer.js';
import { checkPermissions, checkRoute, checkUserName } from './validate-input.js';

const ONE = { min: 1, max: 1 };
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

async function add(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const name = req.positionals[0]!;
  checkUserName(name);
  const keyArgs = req.values.get('key') ?? [];
  if (keyArgs.length === 0) refuse(`users add ${name}: --key FILE|LINE is required (the user's public key)`);
  const keys = distinct(keyArgs.map((a) => readKeyArgument(a, '--key')));
  const given = fieldValues(req);
  const routeFields = ROUTE_FIELD_NAMES.filter((f) => given.has(f));
  const kind = chooseKind(ctx.writer, routeFields.length > 0, given.has('folder'));
  const id = checkedId(req, ctx);
  const user: NewUser = { name, keys, kind, ...(id !== undefined ? { id } : {}) };
  const permissions = given.get('permissions');
  if (permissions !== undefined) user.permissions = checkPermissions(permissions);
  if (kind === 'route') {
    const route: RouteFields = {};
    for (const f of routeFields) route[FIELDS[f].route!] = given.get(f)!;
    if (route.remote === undefined) refuse(`users add ${name}: --remote HOST is required for a proxy-mode user (their upstream SFTP server)`);
    checkRoute(route, routeDefaults(ctx.config));
    user.route = route;
  } else {
    const folder = given.get('folder') ?? ctx.writer.defaultFolder(name);
    if (folder !== undefined) user.folder = folder;
  }
  const result = await ctx.writer.add(user);
  const where = kind === 'route' ? targetText(record(user), routeDefaults(ctx.config))
    : user.folder !== undefined ? `folder ${user.folder}` : 'folder assigned by the server when it reads the user';
  const idText = result.id !== undefined ? `id ${result.id}, ` : '';
  ctx.io.out(`added user ${name} (${idText}${where}, ${plural(keys.length, 'key')})${changeText(result)}\n`);
}

async function set(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const user = await findUser(req, ctx);
  const assignments = req.positionals.slice(1).map(parseAssignment);
  const changes: UserChanges = {};
  const seen = new Set<FieldName>();
  for (const { field, value } of assignments) {
    if (seen.has(field)) refuse(`${field} given twice`);
    seen.add(field);
    const route = FIELDS[field].route;
    if (route) {
      if (user.kind !== 'route') refuse(`${field}: user ${JSON.stringify(user.name)} is a local-mode user (a folder); route fields do not apply`);
      (changes.route ??= {})[route] = value;
    } else if (field === 'folder') {
      if (user.kind !== 'folder') refuse(`folder: user ${JSON.stringify(user.name)} is a proxy-mode user (a route); a folder does not apply`);
      if (value === null) refuse('folder cannot be removed (the server would hand out a new, empty one): give the user another folder');
      changes.folder = value;
    } else {
      changes.permissions = value === null ? null : checkPermissions(value);
    }
  }
  if (changes.route) {
    const merged: RouteFields = { ...user.route };
    for (const [f, v] of Object.entries(changes.route) as Array<[keyof RouteFields, string | null]>) {
      if (v === null) delete merged[f];
      else merged[f] = v;
    }
    checkRoute(merged, routeDefaults(ctx.config));
  }
  const result = await ctx.writer.update(user, changes);
  const said = assignments.map(({ field, value }) => (value === null ? `${field} removed` : `${field}=${value}`)).join(', ');
  ctx.io.out(`changed user ${user.name}: ${said}${changeText(result)}\n`);
}

function activeSwitch(active: boolean) {
  return async (req: AdminRequest, ctx: AdminContext): Promise<void> => {
    const user = await findUser(req, ctx);
    const state = active ? 'enabled' : 'disabled';
    if (user.active === active) {
      ctx.io.out(`user ${user.name} is already ${state}; nothing changed\n`);
      return;
    }
    const result = await ctx.writer.setActive(user, active);
    ctx.io.out(`${state} user ${user.name}${active ? '' : ': logins refused from now on'}${changeText(result)}\n`);
  };
}

async function remove(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const user = await findUser(req, ctx);
  const result = await ctx.writer.remove(user);
  ctx.io.out(`removed user ${user.name} (${plural(user.keys.length, 'key')})${changeText(result)}\n`);
}

async function show(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const user = await findUser(req, ctx);
  ctx.io.out(req.json ? JSON.stringify(userJson(user), null, 2) + '\n' : userDetails(user, routeDefaults(ctx.config)));
}

async function list(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const users = await ctx.writer.list();
  ctx.io.out(req.json ? JSON.stringify(users.map(userJson), null, 2) + '\n' : usersTable(users, routeDefaults(ctx.config), ctx.writer.ids));
}

export const USERS_SUBCOMMANDS: Readonly<Record<string, SubcommandSpec<AdminContext>>> = {
  add: {
    usage: 'add NAME --key FILE|LINE [--remote HOST --port N --upstream-user U --home DIR] [--folder DIR] [--permissions LIST] [--id ID]',
    summary: 'add a user with their public key (--key again for more): a route in proxy mode, a folder in local mode',
    args: ONE, options: ['key', ...FIELD_NAMES, 'id'], run: add,
  },
  set: {
    usage: 'set NAME FIELD=VALUE... [--id ID]', summary: 'change fields (an empty VALUE removes the field)',
    args: { min: 2, max: Infinity }, options: ['id'], run: set,
  },
  remove: { usage: 'remove NAME [--id ID]', summary: 'remove a user and their keys', args: ONE, options: ['id'], run: remove },
  show: { usage: 'show NAME [--json] [--id ID]', summary: 'everything stored about a user (keys by fingerprint)', args: ONE, options: ['id', 'json'], run: show },
  list: { usage: 'list [--json]', summary: 'all users, a table (--json for scripts)', args: { min: 0, max: 0 }, options: ['json'], run: list },
  disable: { usage: 'disable NAME [--id ID]', summary: 'refuse the user\'s logins, keeping everything else', args: ONE, options: ['id'], run: activeSwitch(false) },
  enable: { usage: 'enable NAME [--id ID]', summary: 'let a disabled user in again', args: ONE, options: ['id'], run: activeSwitch(true) },
};

/** The field options given to `users add`, trimmed and non-empty. */
function fieldValues(req: AdminRequest): Map<FieldName, string> {
  const out = new Map<FieldName, string>();
  for (const f of FIELD_NAMES) {
    const v = req.values.get(f)?.[0];
    if (v === undefined) continue;
    if (v.trim() === '') refuse(`--${f} needs a value`);
    out.set(f, v.trim());
  }
  return out;
}

function chooseKind(writer: UserWriter, route: boolean, folder: boolean): TargetKind {
  if (route && folder) refuse('give route options (--remote ...) or --folder, not both: a user is proxied or served from a folder');
  const want: TargetKind | undefined = route ? 'route' : folder ? 'folder' : undefined;
  if (want && !writer.kinds.includes(want)) {
    refuse(want === 'route' ? `${writer.description} holds local-mode users (folders): route options do not apply`
      : `${writer.description} holds proxy-mode users (routes): --folder does not apply`);
  }
  return want ?? writer.kinds[0]!;
}

/** The same key given twice is one key. */
function distinct(keys: AdminKey[]): AdminKey[] {
  return keys.filter((k, i) => keys.findIndex((o) => o.blob.equals(k.blob)) === i);
}

function record(u: NewUser): UserRecord {
  return { name: u.name, active: true, keys: u.keys, kind: u.kind, ...(u.route ? { route: u.route } : {}), location: '', problems: [] };
}
