/** `hangar machine restart <id> [-s signal] [--timeout 10s] [--force-stop]`: restarts and waits for started. */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { goDurationArg } from '../common/format.js';

interface Options extends TokenOptions {
  signal?: string;
  timeout?: string;
  forceStop?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const id = String(ctx.args[0]);
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  if (!ctx.out.json) ctx.out.err(`Restarting machine ${id}...`);
  await client.restartMachine(app, id, {
    ...(ctx.options.signal ? { signal: ctx.options.signal.toUpperCase() } : {}),
    ...(ctx.options.timeout ? { timeout: goDurationArg(ctx.options.timeout) } : {}),
    forceStop: Boolean(ctx.options.forceStop),
  });
  await client.waitMachine(app, id, 'started');
  const m = await client.getMachine(app, id);
  if (ctx.out.json) ctx.out.printJson(m);
  else ctx.out.line(`Machine ${id} restarted (state ${m.state})`);
}
