/** `hangar volumes show <id> [--json]` */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { keyValues } from '../common/format.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const id = String(ctx.args[0]);
  const app = await resolveApp(ctx.globals);
  const v = await connect(ctx).getVolume(app, id);
  if (ctx.out.json) {
    ctx.out.printJson(v);
    return;
  }
  for (const l of keyValues([
    ['ID', v.id],
    ['Name', v.name],
    ['State', v.state],
    ['Size', `${v.size_gb}GB`],
    ['Region', v.region],
    ['Zone', v.zone],
    ['Encrypted', v.encrypted],
    ['Attached VM', v.attached_machine_id],
    ['Created at', v.created_at],
  ]))
    ctx.out.line(l);
}
