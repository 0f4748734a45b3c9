/**
 * `hangar server`: runs the control plane with its embedded agent until SIGTERM/SIGINT
 * (src/server/main.ts). Flags are declared in src/cli/registry.ts.
 */
import type { CommandContext } from '../registry.js';
import { ServerError } from '../../server/errors.js';
import { runServer } from '../../server/main.js';
import { resolveDataDir } from '../../env.js';
import { DEFAULT_API_ADDR, DEFAULT_REGION } from '../../server/setup.js';

export interface ServerFlags {
  dataDir?: string;
  apiAddr?: string;
  driver?: string;
  region?: string;
  logLevel?: string;
  stopMachinesOnExit?: boolean;
}

export async function run(ctx: CommandContext<ServerFlags>): Promise<number> {
  const o = ctx.options;
  let code: number;
  try {
    code = await runServer({
    dataDir: resolveDataDir(o.dataDir),
    apiAddr: o.apiAddr ?? DEFAULT_API_ADDR,
    ...(o.driver === undefined ? {} : { driver: o.driver }),
    region: o.region ?? DEFAULT_REGION,
    ...(o.logLevel === undefined ? {} : { logLevel: o.logLevel }),
    stopMachinesOnExit: o.stopMachinesOnExit ?? false,
    print: (line) => ctx.out.line(line),
    });
  } catch (err) {
    // The server's codes are not in src/core/errors.ts yet; print them as the CLI prints user errors.
    if (err instanceof ServerError) {
      ctx.out.err(`Error: ${err.message}`);
      return 1;
    }
    throw err;
  }
  // Everything was closed; if a stray handle still held the event loop, do not hang in shutdown.
  setTimeout(() => process.exit(code), 3000).unref();
  return code;
}
