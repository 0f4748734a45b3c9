/** `hangar apps create <name> [--org slug] [--network name] [--json]` (reference §1e `apps create`). */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';

interface Options extends TokenOptions {
  name?: string;
  org?: string;
  network?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const name = (ctx.args[0] as string | undefined) ?? ctx.options.name ?? ctx.globals.app;
  if (!name) throw new HangarError('HANGAR_ERR_USAGE', 'apps create needs a name: hangar apps create <name>');
  const app = await connect(ctx).createApp({
    app_name: name,
    ...(ctx.options.org ? { org_slug: ctx.options.org } : {}),
    ...(ctx.options.network ? { network: ctx.options.network } : {}),
  });
  if (ctx.out.json) ctx.out.printJson(app);
  else ctx.out.line(`New app created: ${app?.name ?? name}`);
}
