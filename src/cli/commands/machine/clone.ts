/**
 * `hangar machine clone <id> [--region r] [--name n] [--detach]`: a new machine with the same
 * config. Volume mounts are left out: a volume attaches to one machine only (reference §1a),
 * and flyctl's clone would create a new volume, which Hangar does not do yet.
 */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { waitAndPrintStarted } from './started.js';

interface Options extends TokenOptions {
  region?: string;
  name?: string;
  detach?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const id = String(ctx.args[0]);
  const { options, out } = ctx;
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  const source = await client.getMachine(app, id);
  const config = structuredClone(source.config);
  if (config.mounts && config.mounts.length > 0) {
    out.err(`Machine ${id} mounts volumes; the clone is created without them`);
    delete config.mounts;
  }
  const created = await client.createMachine(app, {
    config,
    region: options.region ?? source.region,
    ...(options.name ? { name: options.name } : {}),
  });
  if (!out.json) out.err(`Cloned machine ${id} into ${created.id} (${created.name}) in ${created.region}`);
  if (options.detach) {
    if (out.json) out.printJson(created);
    else out.line(created.id);
    return;
  }
  await waitAndPrintStarted(out, client, app, created.id, created.instance_id);
}
