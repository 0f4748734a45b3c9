/** `hangar machine start <id...>`: starts each machine and waits until it is started. */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const ids = ctx.args[0] as string[];
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  const results: { id: string; previous_state: string | undefined; state: string }[] = [];
  for (const id of ids) {
    if (!ctx.out.json) ctx.out.err(`Sending start signal to machine ${id}...`);
    const res = await client.startMachine(app, id);
    await client.waitMachine(app, id, 'started');
    results.push({ id, previous_state: res?.previous_state, state: 'started' });
    if (!ctx.out.json) ctx.out.line(`Machine ${id} has been started`);
  }
  if (ctx.out.json) ctx.out.printJson(results);
}
