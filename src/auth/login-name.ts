// A login name is client input: up to ssh2's packet size (about 33 KB) of anything. Stores check it
// with this before it reaches a Redis key, a log line or any memory they keep, since no user can
// have a name longer than this or with control characters.

export const MAX_LOGIN_NAME = 256;

export function loginNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_LOGIN_NAME) return `is longer than ${MAX_LOGIN_NAME} characters`;
  if (/[\x00-\x1f\x7f\uFFFD]/.test(name)) return 'contains control characters or invalid UTF-8';
  return undefined;
}
