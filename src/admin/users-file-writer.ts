// Users in a users file (`--store file:PATH`). Every change is read - change - validate - replace:
// the file is parsed as the server parses it before and after the change (parseUsersFile), so the
// CLI never writes a file the server would reject (a folder shared or nested, a bad route), and
// replaced atomically (atomic-file.ts), which the server's watch picks up on its own. The JSON is
// edited as a tree, so `_comment` fields and the order of entries stay; it is written back with
// 2-space indentation. No change notice: the file's reload is the notice.
import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { formatError, parseUsersFile } from '../auth/file-store.js';
import type { RouteDefaults } from '../auth/parse-route.js';
import { parsePublicKeyText } from '../auth/public-key-text.js';
import { folderNameProblem } from '../auth/user-folder.js';
import { fingerprint } from '../keys/fingerprint.js';
import { refuse, StoreError } from './admin-error.js';
import { readIfExists, replaceFile } from './atomic-file.js';
import { keyLine, type AdminKey } from './key-argument.js';
import { changedMeanwhile, keyAlreadyHeld, keyTaken, nameTaken, noSuchUser } from './refusals.js';
import { ROUTE_NAMES, type ChangeResult, type NewUser, type RouteFields, type RouteName, type TargetKind, type UserChanges, type UserRecord } from './user-record.js';
import type { UserWriter } from './user-writer.js';

export interface UsersFileWriterOptions {
  mode: 'proxy' | 'local';
  sftpPath: string;
  routeDefaults: RouteDefaults;
}

type Json = Record<string, unknown>;
type Entry = Json & { keys: string[]; folder?: string; route?: Json; permissions?: string; active?: boolean };

const ATTEMPTS = 5;

export class UsersFileWriter implements UserWriter {
  readonly kinds: readonly TargetKind[];
  readonly ids = false;
  readonly description: string;

  constructor(private readonly file: string, private readonly opts: UsersFileWriterOptions) {
    this.kinds = opts.mode === 'local' ? ['folder', 'route'] : ['route', 'folder'];
    this.description = `users file ${file}`;
  }

  /** A local user's folder when none is given: their name, if it is a usable folder name. */
  defaultFolder(name: string): string {
    const problem = folderNameProblem(name);
    return problem ? refuse(`the name ${JSON.stringify(name)} ${problem} as a folder name: give one with --folder`) : name;
  }

  async list(): Promise<UserRecord[]> {
    const { users } = await this.load(false);
    return Object.entries(users).filter(([name]) => !name.startsWith('_')).map(([name, e]) => this.record(name, e));
  }

  async find(name: string): Promise<UserRecord | undefined> {
    const { users } = await this.load(false);
    const entry = own(users, name);
    return entry && this.record(name, entry);
  }

  add(u: NewUser): Promise<ChangeResult> {
    return this.edit(true, (users) => {
      if (own(users, u.name)) nameTaken(u.name, this.location(u.name));
      for (const k of u.keys) {
        const owner = ownerOf(users, k.blob);
        if (owner !== undefined) keyTaken(k.fingerprint, owner);
      }
      const entry: Entry = { keys: u.keys.map(keyLine) };
      if (u.kind === 'folder') entry.folder = u.folder ?? this.defaultFolder(u.name);
      else entry.route = jsonRoute(u.route ?? {});
      if (u.permissions !== undefined) entry.permissions = u.permissions;
      users[u.name] = entry; // not "__proto__": names starting with "_" never get here
    });
  }

  update(user: UserRecord, changes: UserChanges): Promise<ChangeResult> {
    return this.edit(false, (users) => {
      const entry = this.entry(users, user.name);
      if (changes.route) {
        const route = (entry.route ??= {});
        for (const f of ROUTE_NAMES) {
          const v = changes.route[f];
          if (v === null) delete route[f];
          else if (v !== undefined) route[f] = jsonValue(f, v);
        }
      }
      if (changes.folder !== undefined) entry.folder = changes.folder;
      if (changes.permissions === null) delete entry.permissions;
      else if (changes.permissions !== undefined) entry.permissions = changes.permissions;
    });
  }

  setActive(user: UserRecord, active: boolean): Promise<ChangeResult> {
    return this.edit(false, (users) => {
      const entry = this.entry(users, user.name);
      // Enabled is the field's absence, as for every entry written before the field existed.
      if (active) delete entry.active;
      else entry.active = false;
    });
  }

  remove(user: UserRecord): Promise<ChangeResult> {
    return this.edit(false, (users) => {
      this.entry(users, user.name);
      delete users[user.name];
    });
  }

  addKey(user: UserRecord, key: AdminKey): Promise<ChangeResult> {
    return this.edit(false, (users) => {
      const entry = this.entry(users, user.name);
      const owner = ownerOf(users, key.blob);
      if (owner === user.name) keyAlreadyHeld(key.fingerprint, user.name);
      if (owner !== undefined) keyTaken(key.fingerprint, owner);
      entry.keys.push(keyLine(key));
    });
  }

  removeKey(user: UserRecord, key: AdminKey): Promise<ChangeResult> {
    return this.edit(false, (users) => {
      const entry = this.entry(users, user.name);
      const kept = entry.keys.filter((k) => !sameKey(k, key.blob));
      if (kept.length === entry.keys.length) refuse(`user ${JSON.stringify(user.name)} has no key ${key.fingerprint}`);
      entry.keys = kept;
    });
  }

  async close(): Promise<void> {
    // Nothing held between commands.
  }

  // --- helpers ----------------------------------------------------------------------------

  private location(name: string): string {
    return `users[${JSON.stringify(name)}] in ${this.file}`;
  }

  private entry(users: Record<string, Entry>, name: string): Entry {
    return own(users, name) ?? noSuchUser(name, `${this.description} (removed meanwhile?)`);
  }

  /** The file's real path: an operator's symlink to it stays a symlink. */
  private async target(): Promise<string> {
    try {
      return await realpath(this.file);
    } catch {
      return this.file;
    }
  }

  /** As the server parses the file: sftp_path as it really is (it may be a symlink), or as written while it does not exist. */
  private parseOptions(): { routeDefaults: RouteDefaults; sftpPath: string } {
    let sftpPath: string;
    try {
      sftpPath = realpathSync(this.opts.sftpPath);
    } catch {
      sftpPath = path.resolve(this.opts.sftpPath);
    }
    return { routeDefaults: this.opts.routeDefaults, sftpPath };
  }

  /** The current text and its users, checked as the server checks them. `create`: a missing file is an empty one. */
  private async load(create: boolean): Promise<{ text: string | undefined; doc: Json; users: Record<string, Entry> }> {
    let text: string | undefined;
    try {
      text = await readIfExists(await this.target());
    } catch (err) {
      throw new StoreError(`cannot read the users file ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (text === undefined) {
      if (!create) refuse(`users file ${this.file} not found (\`pysftpproxy users add\` creates it)`);
      const doc: Json = { users: {} };
      return { text, doc, users: doc['users'] as Record<string, Entry> };
    }
    const parsed = parseUsersFile(text, this.parseOptions());
    if (!(parsed instanceof Map)) refuse(`users file ${this.file} is invalid (${formatError(parsed)}): fix it first`);
    const doc = JSON.parse(text) as Json;
    return { text, doc, users: doc['users'] as Record<string, Entry> };
  }

  private async edit(create: boolean, change: (users: Record<string, Entry>) => void): Promise<ChangeResult> {
    const file = await this.target();
    for (let i = 0; i < ATTEMPTS; i++) {
      const { text, doc, users } = await this.load(create);
      change(users);
      const next = JSON.stringify(doc, null, 2) + '\n';
      const parsed = parseUsersFile(next, this.parseOptions());
      if (!(parsed instanceof Map)) refuse(`the change would make the users file invalid: ${parsed.problem}`);
      let written: boolean;
      try {
        written = await replaceFile(file, next, text);
      } catch (err) {
        throw new StoreError(`cannot write the users file ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (written) return { notes: [`the server reloads ${this.file} by itself`] };
    }
    return changedMeanwhile();
  }

  private record(name: string, e: Entry): UserRecord {
    const problems: string[] = [];
    const keys: AdminKey[] = [];
    for (const text of e.keys) {
      const parsed = parsePublicKeyText(text);
      if ('error' in parsed) {
        problems.push(`a key ${parsed.error}`);
        continue;
      }
      const comment = text.trim().split(/\s+/).slice(2).join(' ');
      keys.push({ algo: parsed.algo, blob: parsed.blob, fingerprint: fingerprint(parsed.blob), ...(comment ? { comment } : {}) });
    }
    const route: RouteFields = {};
    if (e.route) for (const f of ROUTE_NAMES) if (e.route[f] !== undefined) route[f] = String(e.route[f]);
    return {
      name,
      active: e.active !== false,
      keys,
      kind: e.route ? 'route' : 'folder',
      ...(e.route ? { route } : {}),
      ...(e.folder !== undefined ? { folder: e.folder } : {}),
      ...(e.permissions !== undefined ? { permissions: e.permissions } : {}),
      location: this.location(name),
      problems,
    };
  }
}

/** The entry of user `name`: an own field (not "constructor" of Object.prototype), not starting with "_" (comments). */
function own(users: Record<string, Entry>, name: string): Entry | undefined {
  return !name.startsWith('_') && Object.hasOwn(users, name) ? users[name] : undefined;
}

function sameKey(text: unknown, blob: Buffer): boolean {
  const parsed = parsePublicKeyText(text);
  return !('error' in parsed) && parsed.blob.equals(blob);
}

function ownerOf(users: Record<string, Entry>, blob: Buffer): string | undefined {
  for (const [name, e] of Object.entries(users)) {
    if (!name.startsWith('_') && e.keys.some((k) => sameKey(k, blob))) return name;
  }
  return undefined;
}

/** A route as the file writes it: the port as a number. */
function jsonRoute(route: RouteFields): Json {
  const out: Json = {};
  for (const f of ROUTE_NAMES) if (route[f] !== undefined) out[f] = jsonValue(f, route[f]!);
  return out;
}

function jsonValue(field: RouteName, value: string): string | number {
  return field === 'port' && /^\d{1,5}$/.test(value) ? Number(value) : value;
}
