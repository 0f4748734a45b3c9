/**
 * `hangar machine stop <id...> [-s signal] [--timeout 10s]`: sends the stop signal (SIGKILL after
 * the timeout, reference §1a `/stop`) and waits until each machine is stopped.
 */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { durationSeconds, goDurationArg } from '../common/format.js';

interface Options extends TokenOptions {
  signal?: string;
  timeout?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const ids = ctx.args[0] as string[];
  const { signal, timeout } = ctx.options;
  const timeoutSec = timeout === undefined ? undefined : durationSeconds(timeout);
  if (timeout !== undefined && timeoutSec === undefined) {
    throw new HangarError('HANGAR_ERR_USAGE', `invalid --timeout "${timeout}": expected seconds or a duration such as 30s`);
  }
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  for (const id of ids) {
    if (!ctx.out.json) ctx.out.err(`Sending ${signal ?? 'stop'} signal to machine ${id}...`);
    await client.stopMachine(app, id, { ...(signal ? { signal: signal.toUpperCase() } : {}), ...(timeout ? { timeout: goDurationArg(timeout) } : {}) });
    // The machine has the stop timeout to exit before SIGKILL; allow that plus a margin.
    await client.waitMachine(app, id, 'stopped', { timeoutMs: ((timeoutSec ?? 10) + 60) * 1000 });
    if (!ctx.out.json) ctx.out.line(`Machine ${id} has been stopped`);
  }
  if (ctx.out.json) ctx.out.printJson(ids.map((id) => ({ id, state: 'stopped' })));
}
