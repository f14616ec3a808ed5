// The user a subcommand names (NAME, and --id in the solt schema), or a refusal.
import { loginNameProblem } from '../auth/login-name.js';
import { refuse } from './admin-error.js';
import type { AdminContext } from './admin-context.js';
import type { AdminRequest } from './admin-args.js';
import { noSuchUser } from './refusals.js';
import type { UserRecord } from './user-record.js';

/** The one value of a non-repeatable option, if given. */
export function optionValue(req: AdminRequest, option: 'id'): string | undefined {
  return req.values.get(option)?.[0];
}

export function checkedId(req: AdminRequest, ctx: AdminContext): string | undefined {
  const id = optionValue(req, 'id');
  if (id !== undefined && !ctx.writer.ids) refuse(`--id is for the solt schema (--store redis-solt); ${ctx.writer.description} names users only`);
  return id;
}

export async function findUser(req: AdminRequest, ctx: AdminContext): Promise<UserRecord> {
  const name = req.positionals[0]!;
  const problem = loginNameProblem(name);
  if (problem) refuse(`user name ${JSON.stringify(name.slice(0, 80))} ${problem}`);
  const user = await ctx.writer.find(name, checkedId(req, ctx));
  return user ?? noSuchUser(name, ctx.writer.description);
}
