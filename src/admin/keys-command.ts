// `pysftpproxy keys add|remove|list NAME ...`: a user's public keys, shown by fingerprint only.
import { refuse } from './admin-error.js';
import type { AdminRequest, SubcommandSpec } from './admin-args.js';
import type { AdminContext } from './admin-context.js';
import { findUser } from './find-user.js';
import { changeText, keyJson, keyText } from './format-output.js';
import { readKeyArgument, type AdminKey } from './key-argument.js';
import type { UserRecord } from './user-record.js';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

async function add(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const key = readKeyArgument(req.positionals[1]!, 'key');
  const user = await findUser(req, ctx);
  if (user.keys.some((k) => k.blob.equals(key.blob))) {
    ctx.io.out(`user ${user.name} already has key ${key.fingerprint}; nothing changed\n`);
    return;
  }
  const result = await ctx.writer.addKey(user, key);
  ctx.io.out(`added key ${key.fingerprint} (${key.algo}) to user ${user.name}${changeText(result)}\n`);
}

async function remove(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const arg = req.positionals[1]!;
  const user = await findUser(req, ctx);
  const key = heldKey(user, arg);
  const result = await ctx.writer.removeKey(user, key);
  const left = user.keys.length - 1;
  const warning = left === 0 ? '; the user has no key left: no login possible until `keys add`' : '';
  ctx.io.out(`removed key ${key.fingerprint} from user ${user.name}${changeText(result)}${warning}\n`);
}

async function list(req: AdminRequest, ctx: AdminContext): Promise<void> {
  const user = await findUser(req, ctx);
  if (req.json) ctx.io.out(JSON.stringify(user.keys.map(keyJson), null, 2) + '\n');
  else ctx.io.out(user.keys.length === 0 ? '(no keys)\n' : user.keys.map((k) => keyText(k) + '\n').join(''));
}

/** The user's key that FILE|LINE|SHA256:fingerprint names. Any key type may be named for removal. */
function heldKey(user: UserRecord, arg: string): AdminKey {
  const named = FINGERPRINT.test(arg.trim()) ? undefined : readKeyArgument(arg, 'key', false);
  const fp = named?.fingerprint ?? arg.trim();
  return user.keys.find((k) => k.fingerprint === fp) ?? refuse(`user ${JSON.stringify(user.name)} has no key ${fp}`);
}

const TWO = { min: 2, max: 2 };

export const KEYS_SUBCOMMANDS: Readonly<Record<string, SubcommandSpec<AdminContext>>> = {
  add: { usage: 'add NAME FILE|LINE [--id ID]', summary: 'give a user one more public key', args: TWO, options: ['id'], run: add },
  remove: {
    usage: 'remove NAME FILE|LINE|SHA256:fingerprint [--id ID]', summary: 'take a key away (its logins are refused from then on)',
    args: TWO, options: ['id'], run: remove,
  },
  list: { usage: 'list NAME [--json] [--id ID]', summary: 'a user\'s keys: fingerprint, type, comment', args: { min: 1, max: 1 }, options: ['id', 'json'], run: list },
};
