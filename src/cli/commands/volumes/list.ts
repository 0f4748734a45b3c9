/** `hangar volumes list [-a app] [--json]` */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { VOLUME_HEADERS, volumeRow } from '../common/format.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const app = await resolveApp(ctx.globals);
  const vols = await connect(ctx).listVolumes(app);
  if (ctx.out.json) {
    ctx.out.printJson(vols);
    return;
  }
  if (vols.length === 0) {
    ctx.out.line(`No volumes in app ${app}: create one with \`hangar volumes create <name> -a ${app}\`.`);
    return;
  }
  ctx.out.table(VOLUME_HEADERS, vols.map(volumeRow));
}
