/**
 * `hangar server`: runs the control plane with its embedded agent until SIGTERM/SIGINT
 * (src/server/main.ts). Flags are declared in src/cli/registry.ts.
 */
import type { CommandContext } from '../registry.js';
import { ServerError } from '../../server/errors.js';
import { runServer } from '../../server/main.js';
import { ENV, resolveDataDir } from '../../env.js';
import { DEFAULT_API_ADDR, DEFAULT_REGION } from '../../server/setup.js';
import { proxyOptionsFromFlags, type ProxyFlags } from '../../server/proxy.js';

export interface ServerFlags extends ProxyFlags {
  dataDir?: string;
  apiAddr?: string;
  driver?: string;
  dnsAddr?: string;
  region?: string;
  logLevel?: string;
  stopMachinesOnExit?: boolean;
}

export async function run(ctx: CommandContext<ServerFlags>): Promise<number> {
  const o = ctx.options;
  let proxy: ReturnType<typeof proxyOptionsFromFlags>;
  try {
    proxy = proxyOptionsFromFlags(o);
  } catch (err) {
    throw new ServerError('HANGAR_ERR_SERVER_USAGE', (err as Error).message, { cause: err });
  }
  // coded errors (ServerError is a HangarError) go to the CLI's one error handler
  const code = await runServer({
    proxy,
    dataDir: resolveDataDir(o.dataDir),
    apiAddr: o.apiAddr ?? DEFAULT_API_ADDR,
    ...(o.driver === undefined ? {} : { driver: o.driver }),
    // --dns-addr, else $HANGAR_DNS_ADDR (the address `hangar dig` asks too), else the default
    ...(dnsAddr(o) === undefined ? {} : { dnsAddr: dnsAddr(o) as string }),
    region: o.region ?? DEFAULT_REGION,
    ...(o.logLevel === undefined ? {} : { logLevel: o.logLevel }),
    stopMachinesOnExit: o.stopMachinesOnExit ?? false,
    print: (line) => ctx.out.line(line),
  });
  // Everything was closed; if a stray handle still held the event loop, do not hang in shutdown.
  setTimeout(() => process.exit(code), 3000).unref();
  return code;
}

function dnsAddr(o: ServerFlags): string | undefined {
  const env = process.env[ENV.dnsAddr];
  return o.dnsAddr ?? (env === undefined || env === '' ? undefined : env);
}
