// What a store-backed admin subcommand gets: the configuration, the store's writer, and output.
import type { RouteDefaults } from '../auth/parse-route.js';
import type { Config } from '../config/options.js';
import type { UserWriter } from './user-writer.js';

export interface AdminIo {
  out(text: string): void;
  err(text: string): void;
}

export interface AdminContext {
  config: Config;
  writer: UserWriter;
  io: AdminIo;
}

/** Route defaults as the server applies them (--client-user, --home). */
export function routeDefaults(config: Config): RouteDefaults {
  return { clientUser: config.clientUser, ...(config.home !== undefined ? { home: config.home } : {}) };
}
