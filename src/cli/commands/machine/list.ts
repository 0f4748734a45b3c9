/** `hangar machine list [-a app] [--json]`: the app's machines, with where started ones answer. */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { MACHINE_HEADERS, machineRow } from '../common/format.js';

interface Options extends TokenOptions {
  region?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const app = await resolveApp(ctx.globals);
  const machines = await connect(ctx).listMachines(app, ctx.options.region ? { region: ctx.options.region } : {});
  if (ctx.out.json) {
    ctx.out.printJson(machines);
    return;
  }
  if (machines.length === 0) {
    ctx.out.line(`No machines in app ${app}: start one with \`hangar machine run <image> -a ${app}\`.`);
    return;
  }
  ctx.out.line(`${machines.length} machine${machines.length === 1 ? '' : 's'} in app ${app}`);
  ctx.out.table(MACHINE_HEADERS, machines.map(machineRow));
}
