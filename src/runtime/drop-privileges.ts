// Started as root to bind a low port: switch to the configured user/group once the port is bound.
import { ConfigError } from '../config/config-error.js';

export function dropPrivileges(userid: string | undefined, groupid: string | undefined): { uid: number; gid: number } | null {
  if (!userid && !groupid) return null;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  try {
    // Group first: after setuid we may no longer change it.
    if (groupid) process.setgid!(/^\d+$/.test(groupid) ? Number(groupid) : groupid);
    if (userid) process.setuid!(/^\d+$/.test(userid) ? Number(userid) : userid);
  } catch (err) {
    throw new ConfigError(`--userid/--groupid ${userid ?? ''}/${groupid ?? ''}: cannot switch to them (${(err as Error).message})`);
  }
  return { uid: process.getuid(), gid: process.getgid!() };
}
