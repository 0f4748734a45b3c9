/**
 * The `.internal` resolver of `hangar server` (ARCHITECTURE.md "Networking (6PN)"): one
 * DnsServer, on a thread of its own (dns/thread.ts), fed by a ZoneFeeder watching the store, answering on a loopback port in every mode
 * (`--dns-addr`, default `127.0.0.1:5354`, for `hangar dig`, tests and process-driver apps) and,
 * with 6PN, on each network's `<network>::3` port 53 once that network's bridge exists.
 *
 * Process-driver parity (reference §1d): machines of the process driver have `127.x.y.z`
 * addresses, which the zone publishes as A records under the same names, and get
 * `HANGAR_DNS_ADDR=<loopback listener>` in their environment. A dev app resolves `.internal`
 * names by asking that server, e.g. in Node:
 * `const r = new dns.promises.Resolver(); r.setServers([process.env.HANGAR_DNS_ADDR]); await r.resolve4('web.internal')`.
 */
import type { DistanceTable } from '../core/proxy/region.js';
import type { Logger } from 'pino';
import { resolverAddress } from '../core/net/sixpn.js';
import { readHostResolvers } from '../dns/resolv-conf.js';
import { ThreadedDnsServer } from '../dns/thread.js';
import { ZoneFeeder } from '../dns/feeder.js';
import type { StateStore } from '../store/types.js';
import { ServerError } from './errors.js';
import { parseApiAddr } from './setup.js';

export const DEFAULT_DNS_ADDR = '127.0.0.1:5354';

export interface DnsOptions {
  readonly store: StateStore;
  /** `host:port` of the loopback listener; undefined: the default, skipped with a note when taken. */
  readonly addr: string | undefined;
  /** The network whose view the loopback listener answers (the default org's network). */
  readonly loopbackNetwork: string;
  readonly region: string;
  /** Region closeness for `top<N>.nearest.of` (`--region-distances`). */
  readonly distances?: DistanceTable;
  readonly logger: Logger;
  readonly print: (line: string) => void;
}

export interface RunningDns {
  /** `host:port` of the loopback listener, when it runs. */
  readonly loopback: string | undefined;
  /** Answers network `name`'s queries on its `::3` address, port 53 (idempotent). */
  listenNetwork(name: string, number: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the resolver and its zone feed; the first zone is loaded before this resolves. */
export async function startDns(opts: DnsOptions): Promise<RunningDns> {
  const requested = opts.addr ?? DEFAULT_DNS_ADDR;
  const { host, port } = parseDnsAddr(requested);
  const upstreams = await readHostResolvers(undefined, [{ host, port }]);
  // On its own thread (dns/thread.ts): answers never wait for the API, the store or the proxy.
  const server = new ThreadedDnsServer({ upstreams, onError: (err, where) => opts.logger.debug({ where, err: String(err) }, 'dns socket error') });
  let zoneApplied: Promise<void> = Promise.resolve();
  const feeder = new ZoneFeeder({
    store: opts.store,
    onInput: (input) => {
      zoneApplied = server.setZoneInput(input).catch((err: unknown) => opts.logger.error({ err: String(err) }, 'dns zone not applied'));
    },
    networks: [opts.loopbackNetwork],
    localRegion: opts.region,
    ...(opts.distances ? { distances: opts.distances } : {}),
    onError: (err) => opts.logger.error({ err: String(err) }, 'dns zone feed failed'),
  });
  await feeder.start();
  await zoneApplied;
  let loopback: string | undefined;
  try {
    const bound = await server.listen({ network: opts.loopbackNetwork, host, port });
    loopback = `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`;
  } catch (err) {
    if (opts.addr !== undefined) {
      feeder.close();
      await server.close();
      throw new ServerError('HANGAR_ERR_SERVER_USAGE', `cannot listen for DNS on ${requested}: ${(err as Error).message}`);
    }
    // The default port is taken (another hangar server?): the platform still works without it.
    opts.print(`.internal DNS: not listening on ${requested} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass --dns-addr to choose another address`);
  }
  if (loopback !== undefined) opts.print(`.internal DNS listening on ${loopback} (hangar dig --server ${loopback})`);
  const networks = new Map<number, Promise<void>>();
  return {
    loopback,
    listenNetwork(name, number) {
      let p = networks.get(number);
      if (p === undefined) {
        p = server.listen({ network: name, host: resolverAddress(number), port: 53 }).then(
          () => opts.logger.info({ network: name, address: resolverAddress(number) }, 'dns listening for network'),
          (err: unknown) => {
            networks.delete(number);
            throw err;
          },
        );
        networks.set(number, p);
      }
      return p;
    },
    async close() {
      feeder.close();
      await server.close();
    },
  };
}

/** `host:port` of a DNS listener; throws HANGAR_ERR_SERVER_USAGE when malformed. */
export function parseDnsAddr(addr: string): { host: string; port: number } {
  try {
    return parseApiAddr(addr);
  } catch {
    throw new ServerError('HANGAR_ERR_SERVER_USAGE', `--dns-addr ${JSON.stringify(addr)} is not host:port (e.g. ${DEFAULT_DNS_ADDR})`);
  }
}
