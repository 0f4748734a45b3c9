/** `hangar machine destroy <id> [-f/--force]`: destroys a machine (--force kills a running one first). */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';

interface Options extends TokenOptions {
  force?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const id = String(ctx.args[0]);
  const app = await resolveApp(ctx.globals);
  await connect(ctx).destroyMachine(app, id, { force: Boolean(ctx.options.force) });
  if (ctx.out.json) ctx.out.printJson({ id, destroyed: true });
  else ctx.out.line(`Machine ${id} has been destroyed`);
}
