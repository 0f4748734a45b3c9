/**
 * `hangar machine update <id> [--image ... -e K=V -p ... --vm-* --restart --entrypoint
 * --command "..." --detach]`: reads the machine's config, applies the flags and sends the full
 * config back (Fly has no partial update, reference §1a). The new version starts if the machine
 * was started; without --detach the CLI waits for that.
 */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { shellSplit } from '../../../core/shell.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { applyMachineFlags, resolveImage, type MachineFlags } from '../common/machine-flags.js';
import { waitAndPrintStarted } from './started.js';

interface Options extends TokenOptions, MachineFlags {
  image?: string;
  command?: string;
  detach?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const id = String(ctx.args[0]);
  const { options, out } = ctx;
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  const current = await client.getMachine(app, id);
  const config = applyMachineFlags(current.config, options);
  if (options.image !== undefined) config.image = resolveImage(options.image);
  if (options.command !== undefined) {
    const r = shellSplit(options.command);
    if (!r.ok) throw new HangarError('HANGAR_ERR_USAGE', `invalid --command "${options.command}": ${r.error}`);
    config.init = { ...(config.init ?? {}), cmd: r.argv };
  }
  const updated = await client.updateMachine(app, id, { config, current_version: current.instance_id });
  if (!out.json) out.err(`Machine ${id} updated to instance ${updated.instance_id}`);
  if (options.detach || current.state !== 'started') {
    if (out.json) out.printJson(updated);
    return;
  }
  await waitAndPrintStarted(out, client, app, id, updated.instance_id);
}
