// The `sftp` command a demo prints: a whole line to paste, starting with "sftp ", host key
// checked against the known_hosts file the demo wrote.

/** A path as one shell word: bare when it is plain, single-quoted otherwise. */
export function shellWord(p: string): string {
  return /^[A-Za-z0-9._\/@%+=:,-]+$/.test(p) ? p : `'${p.replaceAll("'", `'\\''`)}'`;
}

/** `keyPath` and `knownHosts` already as shell words. */
export function sftpLine(port: number, keyPath: string, knownHosts: string, user: string): string {
  return `sftp -P ${port} -i ${keyPath} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} ${user}@localhost`;
}
