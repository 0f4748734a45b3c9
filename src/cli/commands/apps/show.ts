/** `hangar apps show [name] [--json]`: one app (name from the argument, -a, or fly.toml). */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { keyValues } from '../common/format.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const name = (ctx.args[0] as string | undefined) ?? (await resolveApp(ctx.globals));
  const app = await connect(ctx).getApp(name);
  if (ctx.out.json) {
    ctx.out.printJson(app);
    return;
  }
  for (const l of keyValues([
    ['Name', app.name],
    ['ID', app.id],
    ['Org', app.organization?.slug],
    ['Status', app.status],
    ['Network', app.network],
    ['Machines', app.machine_count],
    ['Volumes', app.volume_count],
  ]))
    ctx.out.line(l);
}
