// Users from a JSON file, for small setups without Redis (`--store file:PATH`). One file serves
// both modes: an entry has public keys and either a folder (local mode) or a route (proxy mode).
//
//   { "users": {
//       "alice": { "keys": ["ssh-ed25519 AAAA... alice@laptop"], "folder": "alice" },
//       "bob":   { "keys": ["AAAAC3NzaC1lZDI1NTE5AAAA..."],
//                  "route": { "remote": "10.0.0.5", "port": 22, "user": "bob", "home": "/srv", "hostkey": "SHA256:..." } } } }
//
// Keys are whole .pub lines or bare base64 blobs. A relative folder is one directory under
// sftp_path (same rules as redis-solt); an absolute folder is taken as written (the operator wrote
// it), but may not be or contain sftp_path. No two users' folders may be the same or one inside the
// other (folder-overlap.ts), and no folder may have a symlink on its path (refused at login).
// `"active": false` disables a user (their logins are refused; absent means active).
// Fields starting with "_" are ignored anywhere, as comments. Anything else unknown is an error,
// so a typo is reported instead of silently ignored.
//
// The file is watched (its directory, so editors that replace the file are seen; plus a slow stat
// poll for file systems without change events) and re-read after changes. A broken file changes
// nothing: the previous users stay and the error is logged with its line and column.
import { readFileSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';
import { constantTimeIncludes } from './constant-time.js';
import { findOverlap, type FolderOwner } from './folder-overlap.js';
import { parseStoredPermissions } from '../policy/permissions.js';
import { describe, parseRoute, type RouteDefaults } from './parse-route.js';
import { offeredKeyProblem, parsePublicKeyText } from './public-key-text.js';
import { ensureAbsoluteFolder, ensureUserFolder, folderNameProblem } from './user-folder.js';
import type { AuthDecision, ClientKey, Route, UserChange, UserStore } from './user-store.js';

export interface FileStoreOptions {
  /** Parent of relative folders (config.sftpPath). */
  sftpPath: string;
  /** Route defaults (config.clientUser, config.home). */
  routeDefaults: RouteDefaults;
  /** Quiet time after a change event before re-reading (default 200 ms). */
  debounceMs?: number;
  /** Stat poll interval, the fallback when change events do not arrive (default 5000 ms). */
  pollMs?: number;
}

interface FileUser {
  name: string;
  keys: Buffer[];
  route?: Route;
  /** Relative to sftp_path (validated), or absolute. */
  folder?: { relative: string } | { absolute: string };
  /** Unusable permissions refuse this user's logins only (the rest of the file still applies). */
  permissions: ReturnType<typeof parseStoredPermissions>;
  /** `"active": false` in the file: logins refused. */
  active: boolean;
}

export interface UsersFileError {
  problem: string;
  line?: number;
  column?: number;
}

const MAX_NAME = 256;
const ROUTE_FIELDS = new Set(['remote', 'port', 'user', 'home', 'key', 'hostkey']);
const USER_FIELDS = new Set(['keys', 'folder', 'route', 'permissions', 'active']);

export class FileStore implements UserStore {
  readonly kind = 'file';
  private readonly path: string;
  private users = new Map<string, FileUser>();
  private lastText: string | undefined;
  private lastBadText: string | undefined;
  private missingReported = false;
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private statSignature = '';
  private reloading = false;
  private again = false;
  private closed = false;

  constructor(filePath: string, private readonly opts: FileStoreOptions, private readonly log: Logger) {
    this.path = path.resolve(filePath);
    let isFile: boolean;
    try {
      isFile = statSync(this.path).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(`--store file:${this.path}: ${code === 'ENOENT' ? 'users file not found' : `cannot read the users file (${code})`}`);
    }
    if (!isFile) throw new ConfigError(`--store file:${this.path}: not a regular file`);
  }

  async start(): Promise<void> {
    // At startup a broken file is a configuration error: the operator is there to see it.
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new ConfigError(`--store file:${this.path}: cannot read the users file (${(err as NodeJS.ErrnoException).code})`);
    }
    const parsed = parseUsersFile(text, { ...this.opts, sftpPath: this.sftpRoot() });
    if (!(parsed instanceof Map)) throw new ConfigError(`--store file:${this.path}: ${formatError(parsed)}`);
    this.apply(text, parsed);
    this.statSignature = await this.signature();
    this.startWatching();
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollMs ?? 5000);
    this.pollTimer.unref();
  }

  async authorize(username: string, key: ClientKey): Promise<AuthDecision> {
    const user = this.users.get(username);
    if (!user) return { ok: false, code: 'unknown-user', reason: 'unknown user' };
    const badKey = offeredKeyProblem(key.data);
    if (badKey) return { ok: false, code: 'unknown-key', reason: badKey };
    if (!constantTimeIncludes(user.keys, key.data)) return { ok: false, code: 'wrong-key', reason: 'public key not registered for this user' };
    if (!user.active) return { ok: false, code: 'inactive', reason: `user disabled ("active": false in ${this.path})` };
    if (!user.permissions.ok) {
      return { ok: false, code: 'bad-data', reason: `users[${JSON.stringify(user.name)}] in ${this.path}: permission ${JSON.stringify(user.permissions.word)} ${user.permissions.problem}` };
    }
    const policy = { permissions: user.permissions.permissions };
    if (user.route) return { ok: true, user: { name: user.name, target: { kind: 'upstream', route: user.route }, policy } };
    const f = user.folder!;
    const result = 'relative' in f ? await ensureUserFolder(this.opts.sftpPath, f.relative) : await ensureAbsoluteFolder(f.absolute);
    if ('error' in result) {
      this.log.error({ path: this.path, user: user.name, problem: result.error }, 'user folder unusable: logins refused');
      return { ok: false, code: 'bad-data', reason: result.error };
    }
    if (result.created) this.log.info({ user: user.name, folder: result.path }, 'user folder created');
    return { ok: true, user: { name: user.name, target: { kind: 'folder', path: result.path }, policy } };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
  }

  // --- watching ---------------------------------------------------------------------------

  private startWatching(): void {
    if (this.closed || this.watcher) return;
    const base = path.basename(this.path);
    try {
      // The directory, not the file: an editor's save-as-new-file-and-rename replaces the inode.
      const w = watch(path.dirname(this.path), { persistent: false }, (_event, filename) => {
        if (!filename || filename.toString() === base) this.schedule();
      });
      w.on('error', (err) => {
        this.log.warn({ path: this.path, err: err.message }, 'users file watch failed: polling instead');
        w.close();
        if (this.watcher === w) this.watcher = undefined;
      });
      this.watcher = w;
    } catch (err) {
      this.log.warn({ path: this.path, err: (err as Error).message }, 'cannot watch the users file: polling instead');
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.reload(), this.opts.debounceMs ?? 200);
    this.debounceTimer.unref();
  }

  private async signature(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    if (!this.watcher) this.startWatching();
    const sig = await this.signature();
    if (sig !== this.statSignature) this.schedule();
  }

  private async reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.reloading = true;
    try {
      do {
        this.again = false;
        await this.reloadOnce();
      } while (this.again && !this.closed);
    } finally {
      this.reloading = false;
    }
  }

  private async reloadOnce(): Promise<void> {
    this.statSignature = await this.signature();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!this.missingReported) {
        this.log.warn({ path: this.path, err: code }, 'users file unreadable: keeping the previous users');
        this.missingReported = true;
      }
      return;
    }
    this.missingReported = false;
    if (this.closed || text === this.lastText) return;
    const parsed = parseUsersFile(text, { ...this.opts, sftpPath: this.sftpRoot() });
    if (!(parsed instanceof Map)) {
      if (text !== this.lastBadText) {
        this.lastBadText = text;
        this.log.error({ path: this.path, line: parsed.line, column: parsed.column, problem: parsed.problem },
          'users file rejected: keeping the previous users');
      }
      return;
    }
    this.apply(text, parsed);
  }

  /** sftp_path as it really is (the operator may have made it a symlink), or as written while it does not exist. */
  private sftpRoot(): string {
    try {
      return realpathSync(this.opts.sftpPath);
    } catch {
      return path.resolve(this.opts.sftpPath);
    }
  }

  private readonly listeners: Array<(c: UserChange) => void> = [];

  onChange(listener: (c: UserChange) => void): void {
    this.listeners.push(listener);
  }

  private apply(text: string, users: Map<string, FileUser>): void {
    const reload = this.lastText !== undefined;
    this.users = users;
    this.lastText = text;
    this.lastBadText = undefined;
    this.log.info({ path: this.path, users: users.size }, 'users file loaded');
    for (const u of users.values()) {
      if (!u.permissions.ok) {
        this.log.error({ path: this.path, user: u.name, field: 'permissions', word: u.permissions.word, problem: u.permissions.problem },
          'bad permissions in the users file: this user\'s logins are refused');
      }
    }
    // A reload may change anyone: every live session is checked again.
    if (reload) for (const l of this.listeners) l({ kind: 'all', reason: 'reload' });
  }
}

export function formatError(e: UsersFileError): string {
  return e.line === undefined ? e.problem : `line ${e.line}${e.column === undefined ? '' : `, column ${e.column}`}: ${e.problem}`;
}

/** Line and column (1-based) of character offset `pos` in `text`. */
function lineColumn(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return { line, column: pos - before.lastIndexOf('\n') };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse and validate a users file: all of it is good, or the first problem with its location.
 * `sftpPath` (resolved) is where relative folders are, for the check that no two folders overlap.
 */
export function parseUsersFile(text: string, opts: Pick<FileStoreOptions, 'routeDefaults' | 'sftpPath'>): Map<string, FileUser> | UsersFileError {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const lc = /line (\d+) column (\d+)/.exec(message);
    if (lc) return { problem: `invalid JSON: ${message}`, line: Number(lc[1]), column: Number(lc[2]) };
    const pos = /position (\d+)/.exec(message);
    if (pos) return { problem: `invalid JSON: ${message}`, ...lineColumn(text, Number(pos[1])) };
    // "Unexpected end of JSON input" and the like: the problem is at the end.
    return { problem: `invalid JSON: ${message}`, ...lineColumn(text, text.length) };
  }
  if (!isObject(doc)) return { problem: 'the file must hold a JSON object { "users": { ... } }', line: 1 };
  for (const k of Object.keys(doc)) {
    if (k !== 'users' && !k.startsWith('_') && k !== '$schema') return { problem: `unknown field ${JSON.stringify(k)} at the top level (expected "users")`, ...locate(text, k) };
  }
  if (!isObject(doc['users'])) return { problem: '"users" must be an object mapping user names to entries', ...locate(text, 'users') };

  const users = new Map<string, FileUser>();
  for (const [name, entry] of Object.entries(doc['users'])) {
    if (name.startsWith('_')) continue;
    const where = `users[${JSON.stringify(name)}]`;
    const fail = (problem: string): UsersFileError => ({ problem: `${where}: ${problem}`, ...locate(text, name) });
    if (name.length === 0 || name.length > MAX_NAME || /[\x00-\x1f\x7f]/.test(name)) return fail('not a usable user name');
    if (!isObject(entry)) return fail('must be an object with "keys" and "folder" or "route"');
    for (const k of Object.keys(entry)) {
      if (!USER_FIELDS.has(k) && !k.startsWith('_')) return fail(`unknown field ${JSON.stringify(k)} (expected keys, folder, route, permissions or active)`);
    }
    const keysValue = entry['keys'];
    if (!Array.isArray(keysValue)) return fail('"keys" must be a list of public keys');
    const keys: Buffer[] = [];
    for (const [i, k] of keysValue.entries()) {
      const parsed = parsePublicKeyText(k);
      if ('error' in parsed) return fail(`keys[${i}] ${typeof k === 'string' ? describe(k.slice(0, 60)) : ''} is not a public key: ${parsed.error}`);
      keys.push(parsed.blob);
    }
    const perms = entry['permissions'];
    if (perms !== undefined && typeof perms !== 'string') return fail('"permissions" must be a string such as "read-only" or "list,download,upload"');
    const active = entry['active'];
    if (active !== undefined && typeof active !== 'boolean') return fail('"active" must be true or false');
    const user: FileUser = { name, keys, permissions: parseStoredPermissions(perms), active: active !== false };
    const hasFolder = entry['folder'] !== undefined;
    const hasRoute = entry['route'] !== undefined;
    if (hasFolder === hasRoute) return fail('needs exactly one of "folder" (local mode) or "route" (proxy mode)');
    if (hasFolder) {
      const folder = entry['folder'];
      if (typeof folder !== 'string') return fail('"folder" must be a string');
      if (path.isAbsolute(folder)) {
        if (folder.includes('\0') || folder.length > 4096) return fail('"folder" is not a usable path');
        user.folder = { absolute: path.resolve(folder) };
      } else {
        const problem = folderNameProblem(folder);
        if (problem) return fail(`"folder" ${describe(folder)} ${problem} (a relative folder is one directory name under sftp_path)`);
        user.folder = { relative: folder };
      }
    } else {
      const route = entry['route'];
      if (!isObject(route)) return fail('"route" must be an object { "remote": ..., "port": ..., ... }');
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(route)) {
        if (k.startsWith('_')) continue;
        if (!ROUTE_FIELDS.has(k)) return fail(`route: unknown field ${JSON.stringify(k)} (expected remote, port, user, home, key, hostkey)`);
        if (typeof v === 'number' && k === 'port') fields[k] = String(v);
        else if (typeof v === 'string') fields[k] = v;
        else return fail(`route: field "${k}" must be a string${k === 'port' ? ' or a number' : ''}`);
      }
      const parsed = parseRoute(fields, opts.routeDefaults);
      if ('error' in parsed) return fail(`route: ${parsed.error}`);
      user.route = parsed;
    }
    users.set(name, user);
  }
  const overlap = folderOverlapProblem(users, path.resolve(opts.sftpPath));
  return overlap ? { problem: overlap.problem, ...locate(text, overlap.user) } : users;
}

/** Two users whose folders are the same or one inside the other, or a folder holding sftp_path itself. */
function folderOverlapProblem(users: Map<string, FileUser>, root: string): { problem: string; user: string } | undefined {
  const owners: FolderOwner[] = [];
  const absolute: FolderOwner[] = [];
  for (const u of users.values()) {
    if (!u.folder) continue;
    const owner = { user: u.name, folder: 'relative' in u.folder ? path.join(root, u.folder.relative) : u.folder.absolute };
    owners.push(owner);
    if ('absolute' in u.folder) absolute.push(owner);
  }
  const found = findOverlap(owners, absolute, root);
  if (!found) return undefined;
  const who = (o: FolderOwner): string => `users[${JSON.stringify(o.user)}]`;
  if (found.kind === 'contains-root') {
    return { user: found.owner.user, problem: `${who(found.owner)}: "folder" ${found.owner.folder} is or contains sftp_path ${root}, where the relative folders are` };
  }
  const { outer, inner } = found;
  if (found.kind === 'same') {
    return { user: inner.user, problem: `${who(inner)} and ${who(outer)} have the same folder ${inner.folder}: two users never share a folder` };
  }
  return { user: inner.user, problem: `${who(inner)}: "folder" ${inner.folder} is inside the folder of ${who(outer)} (${outer.folder}): users' folders may not be inside one another` };
}

/** Where `"key":` first appears, so semantic errors point at a line too. Best effort. */
function locate(text: string, key: string): { line?: number; column?: number } {
  const needle = JSON.stringify(key);
  const re = new RegExp(needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\\s*:');
  const m = re.exec(text);
  return m ? lineColumn(text, m.index) : {};
}
