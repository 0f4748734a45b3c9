/** `hangar secrets unset NAME...` */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const names = ctx.args[0] as string[];
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  let version: number | undefined;
  for (const name of names) version = (await client.unsetSecret(app, name))?.version ?? version;
  if (ctx.out.json) ctx.out.printJson({ app, unset: names, version: version ?? null });
  else ctx.out.line(`Unset ${names.join(', ')} on app ${app}${version === undefined ? '' : ` (version ${version})`}`);
}
