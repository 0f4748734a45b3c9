/**
 * `hangar apps destroy <name> --yes`: deletes the app with its machines and volumes. flyctl asks
 * first; the CLI has no prompt, so the confirmation is the --yes flag.
 */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';

interface Options extends TokenOptions {
  yes?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const name = String(ctx.args[0]);
  if (!ctx.options.yes) {
    throw new HangarError('HANGAR_ERR_USAGE', `destroying app "${name}" deletes its machines and volumes for good: pass --yes to confirm`);
  }
  await connect(ctx).deleteApp(name);
  if (ctx.out.json) ctx.out.printJson({ name, destroyed: true });
  else ctx.out.line(`Destroyed app ${name}`);
}
