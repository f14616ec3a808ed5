// The seam between the admin commands and a store: one class per schema (Redis pysftpproxy, Redis
// solt, users file). The commands validate what the operator typed; a writer checks what only the
// store can know (a name taken, a key someone else holds, a folder claimed) at the moment it
// writes, so that two admins at once cannot break those rules, and publishes the change notice
// with the write. Every method refuses (RefusedError) before writing anything.
import type { AdminKey } from './key-argument.js';
import type { ChangeResult, NewUser, TargetKind, UserChanges, UserRecord } from './user-record.js';

export interface UserWriter {
  /** For messages: `redis 127.0.0.1:6379/1 (pysftpproxy schema)`, `users file /etc/users.json`. */
  readonly description: string;
  /** The kinds of user this store holds, the first one the default for `users add`. */
  readonly kinds: readonly TargetKind[];
  /** Whether users have ids (solt): `--id` picks one. */
  readonly ids: boolean;
  /** The folder a new local user gets when none is given; undefined: the server assigns one (solt). */
  defaultFolder(name: string): string | undefined;

  list(): Promise<UserRecord[]>;
  /** The user named `name` (`id`: solt, to pick one of several hashes with that name), or undefined. */
  find(name: string, id?: string): Promise<UserRecord | undefined>;

  add(user: NewUser): Promise<ChangeResult>;
  update(user: UserRecord, changes: UserChanges): Promise<ChangeResult>;
  setActive(user: UserRecord, active: boolean): Promise<ChangeResult>;
  remove(user: UserRecord): Promise<ChangeResult>;
  addKey(user: UserRecord, key: AdminKey): Promise<ChangeResult>;
  removeKey(user: UserRecord, key: AdminKey): Promise<ChangeResult>;

  close(): Promise<void>;
}
