// The one picture of a user the admin commands work with, whichever store holds it. Writers turn
// their schema into this and back; the commands and the output only know this.
import type { AdminKey } from './key-argument.js';

/** Route fields under the names the stores keep them (route hash, users file `route`). */
export const ROUTE_NAMES = ['remote', 'port', 'user', 'home', 'key', 'hostkey'] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];
export type RouteFields = Partial<Record<RouteName, string>>;

/** What a user's sessions go to: an upstream (proxy mode) or a folder (local mode). */
export type TargetKind = 'route' | 'folder';

export interface UserRecord {
  name: string;
  /** Solt schema: the user id. */
  id?: string;
  active: boolean;
  keys: AdminKey[];
  kind: TargetKind;
  /** kind 'route': the fields as stored. */
  route?: RouteFields;
  /** kind 'folder': as stored; unset in the solt schema until the server assigns one. */
  folder?: string;
  /** As stored; unset: everything. */
  permissions?: string;
  /** Where the user is stored, for messages: `pysftpproxy:user:alice`, `solt.sftp.user.7`, `users["alice"] in /etc/users.json`. */
  location: string;
  /** Stored data the server would refuse or not read (an oversized field, an unparseable key), for show and list. */
  problems: string[];
}

export interface NewUser {
  name: string;
  /** Solt schema: the id to use; unset: the next free one. */
  id?: string;
  keys: AdminKey[];
  kind: TargetKind;
  route?: RouteFields;
  /** Solt: unset leaves it to the server's claim at its next load. */
  folder?: string;
  permissions?: string;
}

/** A `users set`: for each field, the new value or null to remove it. */
export interface UserChanges {
  route?: Partial<Record<RouteName, string | null>>;
  folder?: string;
  permissions?: string | null;
}

/** What a change did, for the one line the command prints. */
export interface ChangeResult {
  /** Solt: the id of the user added. */
  id?: string;
  /** The change notice published, if the store has one (Redis). */
  notice?: { channel: string; message: string };
  /** Anything else the operator should know (a folder left claimed, a file the server reloads). */
  notes: string[];
}
