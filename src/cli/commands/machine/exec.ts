/**
 * `hangar machine exec <id> <command> [--timeout 30]`: runs a command in the machine and prints
 * its output; the CLI exits with the command's exit code (reference §1a `/exec`: `cmd` is one
 * string, `timeout` integer seconds).
 */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { durationSeconds } from '../common/format.js';

interface Options extends TokenOptions {
  timeout?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<number> {
  const id = String(ctx.args[0]);
  const command = String(ctx.args[1]);
  const timeout = ctx.options.timeout === undefined ? undefined : durationSeconds(ctx.options.timeout);
  if (timeout === undefined && ctx.options.timeout !== undefined) {
    throw new HangarError('HANGAR_ERR_USAGE', `invalid --timeout "${ctx.options.timeout}": expected seconds`);
  }
  const app = await resolveApp(ctx.globals);
  const res = await connect(ctx).exec(app, id, { cmd: command, ...(timeout === undefined ? {} : { timeout: Math.ceil(timeout) }) });
  if (ctx.out.json) {
    ctx.out.printJson(res);
    return 0;
  }
  if (res.stdout) ctx.out.io.stdout(res.stdout);
  if (res.stderr) ctx.out.io.stderr(res.stderr);
  return res.exit_code;
}
