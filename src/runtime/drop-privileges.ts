// Started as root to bind a low port: switch to the configured user/group once the port is bound.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config-error.js';

export function dropPrivileges(userid: string | undefined, groupid: string | undefined): { uid: number; gid: number } | null {
  if (!userid && !groupid) return null;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const id = (v: string): string | number => (/^\d+$/.test(v) ? Number(v) : v);
  try {
    // Groups first: after setuid we may no longer change them. root's supplementary groups must
    // not survive the switch, nor its gid 0 when only a user is given (the user's own group then).
    const gid = groupid ? id(groupid) : primaryGroupOf(id(userid!));
    process.setgroups!([gid]);
    process.setgid!(gid);
    if (userid) process.setuid!(id(userid));
  } catch (err) {
    throw new ConfigError(`--userid/--groupid ${userid ?? ''}/${groupid ?? ''}: cannot switch to them (${(err as Error).message})`);
  }
  return { uid: process.getuid(), gid: process.getgid!() };
}

/** The user's primary group from /etc/passwd (root's gid 0 must not be kept by default). */
function primaryGroupOf(user: string | number): number {
  const entry = passwd().find((e) => (typeof user === 'number' ? e.uid === user : e.name === user));
  if (!entry) throw new Error(`no user ${user} in /etc/passwd; give --groupid as well`);
  return entry.gid;
}

function passwd(): Array<{ name: string; uid: number; gid: number }> {
  return readFileSync('/etc/passwd', 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const f = l.split(':');
    return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) };
  });
}
