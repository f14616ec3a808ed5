// Validates a route hash read from a store. Bad data refuses the login with a reason naming the field.
import type { Route } from './user-store.js';

export interface RouteDefaults {
  clientUser: string;
  home?: string;
}

const HOST = /^[A-Za-z0-9._:-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$/;
const LOGIN = /^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function parseRoute(fields: Record<string, string>, defaults: RouteDefaults): Route | { error: string } {
  const host = (fields['remote'] ?? '').trim();
  if (!HOST.test(host)) return { error: `field "remote" ${describe(fields['remote'])} is not a host name or address` };
  const portText = (fields['port'] ?? '22').trim();
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return { error: `field "port" ${describe(fields['port'])} is not a port number 1-65535` };
  const user = (fields['user'] || defaults.clientUser).trim();
  if (!LOGIN.test(user)) return { error: `field "user" ${describe(fields['user'])} is not a valid login name` };
  const route: Route = { host: host.replace(/^\[|\]$/g, ''), port, user };
  const home = fields['home'] || defaults.home;
  if (home !== undefined) {
    if (home.includes('\0') || home.length > 4096) return { error: 'field "home" is not a usable path' };
    route.home = home;
  }
  if (fields['key']) {
    if (!fields['key'].startsWith('/')) return { error: `field "key" ${describe(fields['key'])} must be an absolute file path` };
    route.keyPath = fields['key'];
  }
  if (fields['hostkey']) {
    if (!FINGERPRINT.test(fields['hostkey'].trim())) return { error: 'field "hostkey" must be a SHA256:... fingerprint' };
    route.hostKey = fields['hostkey'].trim();
  }
  return route;
}

/** Show a bad value safely: quoted, control characters escaped, bounded. */
export function describe(value: string | undefined): string {
  if (value === undefined) return '(missing)';
  return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
}
