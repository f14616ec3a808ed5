// Runs one store-backed admin command (users, keys): parse, load the server's configuration, open
// the store's writer, run, close. Every failure is one line on stderr and an exit status.
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { RefusedError, StoreError } from './admin-error.js';
import { parseAdminArgs, type SubcommandSpec } from './admin-args.js';
import type { AdminContext, AdminIo } from './admin-context.js';
import { adminHelp } from './admin-help.js';
import { safe } from './format-output.js';
import { openWriter } from './open-writer.js';

export async function runStoreCommand(command: string, subs: Readonly<Record<string, SubcommandSpec<AdminContext>>>,
    argv: readonly string[], io: AdminIo): Promise<number> {
  try {
    const parsed = parseAdminArgs(command, argv, subs);
    if (parsed.kind === 'help') {
      io.out(adminHelp(command, subs, parsed.sub));
      return 0;
    }
    const { request } = parsed;
    const loaded = loadConfig(request.configArgv);
    if (loaded.kind !== 'run') {
      io.out(adminHelp(command, subs));
      return 0;
    }
    const writer = await openWriter(loaded.config);
    try {
      await subs[request.sub]!.run(request, { config: loaded.config, writer, io });
    } finally {
      await writer.close();
    }
    return 0;
  } catch (err) {
    const refused = err instanceof RefusedError || err instanceof ConfigError;
    if (!refused && !(err instanceof StoreError)) throw err; // a bug: the caller prints it whole
    io.err(`pysftpproxy: ${safe(err.message)}\n`);
    return refused ? 2 : 1;
  }
}
