/**
 * `hangar machine run <image> [command...]`: creates a machine from flags (flyctl's
 * `machine run`, reference §1e) and, unless --detach, waits for it to start and prints where it
 * answers. A local directory runs as `dir:<path>` (made absolute here: the agent does not share
 * the CLI's working directory).
 */
import type { CommandContext } from '../../registry.js';
import type { MachineConfig } from '../../../core/fly/machine-config.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { applyMachineFlags, resolveImage, type MachineFlags } from '../common/machine-flags.js';
import { waitAndPrintStarted } from './started.js';

interface Options extends TokenOptions, MachineFlags {
  name?: string;
  region?: string;
  detach?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const { options, out } = ctx;
  const image = resolveImage(String(ctx.args[0]));
  const command = (ctx.args[1] as string[] | undefined) ?? [];
  let config: MachineConfig = { image };
  if (command.length > 0) config.init = { cmd: command };
  config = applyMachineFlags(config, options);
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  const created = await client.createMachine(app, {
    config,
    ...(options.name ? { name: options.name } : {}),
    ...(options.region ? { region: options.region } : {}),
  });
  if (options.detach) {
    if (out.json) out.printJson(created);
    else out.line(`Machine ${created.id} (${created.name}) created in ${created.region}; instance ${created.instance_id}`);
    return;
  }
  if (!out.json) out.err(`Machine ${created.id} (${created.name}) created in ${created.region}; waiting for it to start...`);
  await waitAndPrintStarted(out, client, app, created.id, created.instance_id);
}
