/** `hangar volumes destroy <id> --yes`: deletes a volume and its data (confirmed by --yes; the CLI has no prompt). */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';

interface Options extends TokenOptions {
  yes?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const id = String(ctx.args[0]);
  if (!ctx.options.yes) throw new HangarError('HANGAR_ERR_USAGE', `destroying volume ${id} deletes its data for good: pass --yes to confirm`);
  const app = await resolveApp(ctx.globals);
  const vol = await connect(ctx).destroyVolume(app, id);
  if (ctx.out.json) ctx.out.printJson(vol ?? { id, destroyed: true });
  else ctx.out.line(`Destroyed volume ${id}`);
}
