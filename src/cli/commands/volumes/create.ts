/**
 * `hangar volumes create <name> [-s size_gb] [-r region] [--no-encryption]`: a new volume
 * (CLI default size 1 GB, as flyctl; reference §1a "Volume object").
 */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { VOLUME_HEADERS, volumeRow } from '../common/format.js';

interface Options extends TokenOptions {
  size?: string;
  region?: string;
  encryption?: boolean;
}

/** A whole number of GB ≥ 1 from a flag value. */
export function parseSizeGbArg(value: string, flag = '-s/--size'): number {
  const n = Number(value.replace(/gb$/i, ''));
  if (!Number.isInteger(n) || n < 1) throw new HangarError('HANGAR_ERR_USAGE', `invalid ${flag} "${value}": expected a whole number of GB (at least 1)`);
  return n;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const name = String(ctx.args[0]);
  const size = parseSizeGbArg(ctx.options.size ?? '1');
  const app = await resolveApp(ctx.globals);
  const vol = await connect(ctx).createVolume(app, {
    name,
    size_gb: size,
    ...(ctx.options.region ? { region: ctx.options.region } : {}),
    ...(ctx.options.encryption === false ? { encrypted: false } : {}),
  });
  if (ctx.out.json) ctx.out.printJson(vol);
  else ctx.out.table(VOLUME_HEADERS, [volumeRow(vol)]);
}
