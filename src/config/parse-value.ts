// Turns one raw text value into a typed option value, or a ConfigError naming where it came from.
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './config-error.js';
import { AddressList } from '../net/address-list.js';
import type { HostPort } from './option-kinds.js';
import type { OptionSpec } from './options.js';

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]{1,253})):(\d{1,5})$/;

export function expandPath(raw: string): string {
  const home = os.homedir();
  if (raw === '~') return home;
  if (raw.startsWith('~/')) return path.join(home, raw.slice(2));
  return path.resolve(raw);
}

/** `source` names where the value came from, e.g. `SFTPPROXY_PORT` or `--port` or `[options] port in a.ini`. */
export function parseValue(spec: OptionSpec, raw: string, source: string): string | number | boolean | string[] | HostPort | HostPort[] {
  const bad = (expected: string): never => {
    throw new ConfigError(`${source}=${JSON.stringify(raw)} is not valid: expected ${expected}`);
  };
  const value = raw.trim();
  switch (spec.type) {
    case 'string':
      if (value === '') bad('a non-empty value');
      return value;
    case 'path':
      if (value === '') bad('a file or directory path');
      return expandPath(value);
    case 'enum':
      if (!spec.choices?.includes(value.toLowerCase())) bad(`one of ${spec.choices?.join(', ')}`);
      return value.toLowerCase();
    case 'list': {
      const items = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
      const choices = spec.choices;
      const unknown = choices ? items.filter((v) => !choices.includes(v)) : [];
      if (items.length === 0 || unknown.length > 0) {
        bad(`a comma-separated list${choices ? ` of ${choices.join(', ')}` : ''}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
      }
      return items;
    }
    case 'addresses': {
      const items = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
      try {
        AddressList.parse(items);
      } catch (err) {
        bad(`comma-separated IP addresses or CIDR ranges: ${(err as Error).message}`);
      }
      return items;
    }
    case 'hostport': {
      const m = HOST_PORT.exec(value);
      const port = m ? Number(m[3]) : NaN;
      if (!m || !(port >= 0 && port <= 65535)) bad('HOST:PORT, e.g. 127.0.0.1:9122 or [::1]:9122');
      return { host: m![1] ?? m![2]!, port };
    }
    case 'hostports': {
      const items = value.split(',').map((v) => v.trim());
      const expected = 'a comma-separated list of HOST:PORT (IPv6 as [ADDRESS]:PORT)';
      if (items.every((v) => v === '')) bad(`${expected}; the list is empty`);
      return items.map((item) => {
        const m = HOST_PORT.exec(item);
        if (!m) bad(`${expected}; ${JSON.stringify(item)} ${/:\d+$/.test(item) ? 'is not a host name or address' : 'has no port'}`);
        const port = Number(m![3]);
        if (port < 1 || port > 65535) bad(`${expected}; ${JSON.stringify(item)}: the port must be from 1 to 65535`);
        return { host: m![1] ?? m![2]!, port };
      });
    }
    case 'bool': {
      const v = value.toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      return bad('true or false');
    }
    case 'port':
    case 'int':
    case 'seconds': {
      const min = spec.min ?? (spec.type === 'port' ? 1 : 0);
      const max = spec.type === 'port' ? 65535 : spec.max ?? Number.MAX_SAFE_INTEGER;
      const what = spec.type === 'port' ? 'a TCP port number' : spec.type === 'seconds' ? 'a number of seconds' : 'a whole number';
      if (!/^\d+$/.test(value)) bad(`${what} from ${min} to ${max}`);
      const n = Number(value);
      if (n < min || n > max) bad(`${what} from ${min} to ${max}`);
      return n;
    }
  }
}
