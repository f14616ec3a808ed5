// Checks of what the operator typed that need no store: each refuses with one line naming the
// input, using the same rules the stores apply when they read the data back.
import { loginNameProblem } from '../auth/login-name.js';
import { parseRoute, type RouteDefaults } from '../auth/parse-route.js';
import type { Route } from '../auth/user-store.js';
import { parsePermissions } from '../policy/permissions.js';
import { refuse } from './admin-error.js';
import type { RouteFields } from './user-record.js';

export function checkUserName(name: string): void {
  const problem = loginNameProblem(name);
  if (problem) refuse(`user name ${JSON.stringify(name.slice(0, 80))} ${problem}`);
  // The users file ignores "_..." entries as comments; no store should hold a user the file could not.
  if (name.startsWith('_')) refuse(`user name ${JSON.stringify(name)} starts with "_", which the users file reads as a comment`);
  if (name !== name.trim()) refuse(`user name ${JSON.stringify(name)} starts or ends with a space`);
}

/** The permissions text, trimmed, if every word is known. */
export function checkPermissions(text: string): string {
  const parsed = parsePermissions(text);
  if (!parsed.ok) refuse(`permissions ${JSON.stringify(text)}: ${JSON.stringify(parsed.word)} is an ${parsed.problem}`);
  return text.trim();
}

/** The route these fields give with the server's defaults, or a refusal naming the field. */
export function checkRoute(fields: RouteFields, defaults: RouteDefaults): Route {
  const route = parseRoute(fields as Record<string, string>, defaults);
  if ('error' in route) refuse(`route ${route.error}`);
  return route;
}
