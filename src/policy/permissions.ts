// What a user may do over SFTP, as operators write it: a comma-separated list of words in the
// user's `permissions` field (route hash, solt hash, users file). `*` (the default) allows all,
// `read-only` means list,download. An unknown word is an error the store reports: a typo must
// refuse the login rather than grant or deny something unintended.

export const PERMISSIONS = ['list', 'download', 'upload', 'overwrite', 'delete', 'rename', 'mkdir', 'symlink', 'chmod'] as const;
export type Permission = (typeof PERMISSIONS)[number];
export type Permissions = ReadonlySet<Permission>;

const ALIASES: Readonly<Record<string, readonly Permission[]>> = {
  '*': PERMISSIONS,
  'read-only': ['list', 'download'],
};

export const ALL_PERMISSIONS: Permissions = Object.freeze(new Set<Permission>(PERMISSIONS));

/** Longest permissions text read from a store (all words spelled out are ~70 characters). */
const MAX_TEXT = 512;

export type ParsedPermissions = { ok: true; permissions: Permissions } | { ok: false; word: string; problem: string };

/** `undefined` or blank: everything (existing users keep working). */
export function parsePermissions(text: string | undefined): ParsedPermissions {
  if (text === undefined || text.trim() === '') return { ok: true, permissions: ALL_PERMISSIONS };
  if (text.length > MAX_TEXT) return { ok: false, word: text.slice(0, 40), problem: `longer than ${MAX_TEXT} characters` };
  const out = new Set<Permission>();
  for (const raw of text.split(',')) {
    const word = raw.trim().toLowerCase();
    if (word === '') continue;
    const expanded = ALIASES[word] ?? ((PERMISSIONS as readonly string[]).includes(word) ? [word as Permission] : undefined);
    if (!expanded) {
      return { ok: false, word: raw.trim().slice(0, 40), problem: `unknown permission; use ${PERMISSIONS.join(', ')}, * or read-only` };
    }
    for (const p of expanded) out.add(p);
  }
  return { ok: true, permissions: out.size === PERMISSIONS.length ? ALL_PERMISSIONS : out };
}

/** A store's field: unset or blank leaves the choice to the server's --permissions. */
export function parseStoredPermissions(text: string | undefined): { ok: true; permissions: Permissions | undefined } | { ok: false; word: string; problem: string } {
  return text === undefined || text.trim() === '' ? { ok: true, permissions: undefined } : parsePermissions(text);
}

/** The canonical text: `*`, or the words in table order. */
export function formatPermissions(p: Permissions): string {
  if (PERMISSIONS.every((w) => p.has(w))) return '*';
  return PERMISSIONS.filter((w) => p.has(w)).join(',');
}

/** Whether the user holds any permission that changes files (the fail-closed rule for unknown requests). */
export function mayWriteAnything(p: Permissions): boolean {
  return PERMISSIONS.some((w) => w !== 'list' && w !== 'download' && p.has(w));
}
