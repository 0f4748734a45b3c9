/** `hangar volumes extend <id> -s <size_gb | +N>`: grows a volume to a size, or by N GB with `+N`. */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { parseSizeGbArg } from './create.js';

interface Options extends TokenOptions {
  size?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const id = String(ctx.args[0]);
  const sizeArg = ctx.options.size;
  if (!sizeArg) throw new HangarError('HANGAR_ERR_USAGE', 'volumes extend needs the new size: -s <GB> (or -s +<GB> to add)');
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  let size: number;
  if (sizeArg.startsWith('+')) size = (await client.getVolume(app, id)).size_gb + parseSizeGbArg(sizeArg.slice(1));
  else size = parseSizeGbArg(sizeArg);
  const res = await client.extendVolume(app, id, size);
  if (ctx.out.json) {
    ctx.out.printJson(res);
    return;
  }
  ctx.out.line(`Volume ${id} extended to ${res.volume.size_gb}GB`);
  if (res.needs_restart) ctx.out.line('Restart the machine that mounts it to use the new size: `hangar machine restart <id>`');
}
