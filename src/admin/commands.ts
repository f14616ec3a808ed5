// The admin commands, by the word after `pysftpproxy`. Each is a function of its arguments to an
// exit status; a new one is one more entry here.
import type { AdminIo } from './admin-context.js';
import { runBansCommand } from './bans-command.js';
import { KEYS_SUBCOMMANDS } from './keys-command.js';
import { runStoreCommand } from './store-command.js';
import { USERS_SUBCOMMANDS } from './users-command.js';

export interface AdminCommand {
  summary: string;
  run(argv: readonly string[], io: AdminIo): Promise<number>;
}

export const ADMIN_COMMANDS: Readonly<Record<string, AdminCommand>> = {
  users: { summary: 'add, change, disable, list or remove users', run: (argv, io) => runStoreCommand('users', USERS_SUBCOMMANDS, argv, io) },
  keys: { summary: 'add, remove or list a user\'s public keys', run: (argv, io) => runStoreCommand('keys', KEYS_SUBCOMMANDS, argv, io) },
  bans: { summary: 'list or lift the brute-force defender\'s bans', run: runBansCommand },
};

export function adminCommand(word: string | undefined): AdminCommand | undefined {
  return word !== undefined && Object.hasOwn(ADMIN_COMMANDS, word) ? ADMIN_COMMANDS[word] : undefined;
}
