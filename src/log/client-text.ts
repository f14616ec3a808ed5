// Text a client chose (user names, subsystem names, paths) goes into log lines shortened: a
// 33 KB user name repeated by a bot must not become megabytes of log. OpenSSH logs 100 characters.
const MAX_LOGGED = 100;

export function clientText(value: string, max = MAX_LOGGED): string {
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}
