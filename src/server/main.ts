/**
 * `hangar server`: the embedded default (ARCHITECTURE.md "One package, one executable, three
 * roles"): the SQLite store, the in-process bus, the Machines API and an in-process agent, one
 * process on one host. `startServer` composes and starts everything; `RunningServer.close`
 * takes it down in reverse order. Machines outlive the server unless asked otherwise.
 */
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { startHeartbeat, type Heartbeat } from '../agent/heartbeat.js';
import { LOG_STREAM_CONFIG } from '../agent/logs.js';
import { buildApi } from '../api/app.js';
import { MemoryBus } from '../bus/memory/bus.js';
import { clientConfigPath, readClientConfig, writeClientConfig } from '../client/config.js';
import { CheckRunner } from '../checks/runner.js';
import { bootstrap } from '../control/bootstrap.js';
import { networkId, type HostRecord } from '../core/model.js';
import type { DriverOptions } from '../drivers/index.js';
import { flyImageRef, ImageStore } from '../images/store.js';
import type { ImageResolver } from '../agent/spec.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { StateStore } from '../store/types.js';
import { startDns, type RunningDns } from './dns.js';
import { acquireLock, type DataDirLock } from './lock.js';
import { startServerProxy, type RunningProxy, type ServerProxyOptions } from './proxy.js';
import { serverRegistry } from './metrics.js';
import { startNetworking, type Networking } from './networking.js';
import { chooseDriver, ensureDataDir, loadHostId, parseApiAddr, urlHost } from './setup.js';

export interface ServerOptions {
  readonly dataDir: string;
  /** `host:port`; port 0 picks a free one. */
  readonly apiAddr: string;
  /** Driver name; default: the best available. */
  readonly driver?: string;
  /** `host:port` of the `.internal` resolver's loopback listener (default `127.0.0.1:5354`). */
  readonly dnsAddr?: string;
  readonly region: string;
  readonly logLevel?: string;
  readonly stopMachinesOnExit?: boolean;
  /** Where operator-facing lines go (the admin token, the driver choice). */
  readonly print: (line: string) => void;
  /** Environment for the CLI config path (`$HANGAR_CONFIG`). Default: process.env. */
  readonly env?: Record<string, string | undefined>;
  /** The embedded edge proxy (src/server/proxy.ts); `false` = `--no-proxy`. Default: on, defaults. */
  readonly proxy?: ServerProxyOptions | false;
}

export interface RunningServer {
  /** `http://host:port` the API answers on. */
  readonly url: string;
  readonly hostId: string;
  readonly logger: Logger;
  /** `host:port` of the `.internal` resolver's loopback listener, when it runs. */
  readonly dnsAddr: string | undefined;
  /** The embedded edge proxy (its metrics are on `/metrics`), unless `--no-proxy`. */
  readonly proxy: RunningProxy | undefined;
  /** Stops the API, the agent's loops, the bus and the store; releases the data dir. Idempotent. */
  close(): Promise<void>;
}

/**
 * Address mode and range for the host's private addresses, by driver: crun machines get 6PN
 * addresses (per network /64s are allocated by the control plane, control/networks.ts), host
 * processes loopback ones.
 */
function addressing(driverName: string): Pick<HostRecord, 'address_mode' | 'address_range'> {
  if (driverName === 'crun') return { address_mode: '6pn', address_range: 'fdaa::/16' };
  return { address_mode: 'loopback', address_range: '127.77.0.0/16' };
}

/** What an isolated driver needs besides itself: the image store and the host's 6PN owner. */
interface Isolation {
  readonly images: ImageStore;
  readonly networking: Networking;
  readonly resolver: ImageResolver;
}

/**
 * For `--driver crun`: opens the ImageStore and creates the one HostNetwork, whose hooks go into
 * the driver; a network's DNS listener starts on its `::3` once its bridge exists.
 */
async function startIsolation(opts: ServerOptions, store: StateStore, hostId: string, dns: RunningDns, logger: Logger): Promise<Isolation | undefined> {
  if (opts.driver !== 'crun') return undefined;
  const images = await ImageStore.open({ dataDir: opts.dataDir, onEvent: (ev) => logger.info({ image: ev.ref, digest: ev.digest }, `image ${ev.type}`) });
  const networking = startNetworking({ store, hostId, dataDir: opts.dataDir, logger: logger.child({ component: 'net' }), onNetwork: (name, n) => dns.listenNetwork(name, n) });
  const resolver: ImageResolver = async (ref) => {
    const rec = await images.ensure(ref);
    return { flyImageRef: flyImageRef(rec), imageRef: await images.imageRef(rec) };
  };
  return { images, networking, resolver };
}

function driverOptions(opts: ServerOptions, iso: Isolation | undefined): (name: string) => DriverOptions {
  return (name) => (name === 'crun' ? { crun: { dataDir: opts.dataDir, ...(iso ? { images: iso.images, ...iso.networking.hooks } : {}) } } : {});
}

/** Starts the server; rejects (having released everything) when any part cannot start. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { host: apiHost, port: apiPort } = parseApiAddr(opts.apiAddr);
  ensureDataDir(opts.dataDir);
  const lock: DataDirLock = acquireLock(opts.dataDir);
  const logger = pino({ level: opts.logLevel ?? 'info', base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  const unwind = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.error({ err: String(err) }, 'shutdown step failed');
      }
    }
    cleanups.length = 0;
  };
  try {
    const store = new SqliteStore({ path: join(opts.dataDir, 'hangar.db') });
    cleanups.push(() => store.close());
    const bus = new MemoryBus({ onError: (err, subject) => logger.warn({ subject, err: String(err) }, 'bus subscriber failed') });
    cleanups.push(() => bus.close());
    await bus.createStream(LOG_STREAM_CONFIG);
    const { adminToken, org } = await bootstrap(store, opts.dataDir);
    const hostId = loadHostId(opts.dataDir);

    const distances = opts.proxy ? opts.proxy.distances : undefined;
    const dns = await startDns({ store, addr: opts.dnsAddr, loopbackNetwork: networkId(org.slug, org.network), region: opts.region, ...(distances ? { distances } : {}), logger: logger.child({ component: 'dns' }), print: opts.print });
    cleanups.push(() => dns.close());
    const iso = await startIsolation(opts, store, hostId, dns, logger);
    // after the driver's close (cleanups run in reverse): unused prepared netns go, machines' stay
    if (iso) cleanups.push(() => iso.networking.close());

    const { driver, notes } = await chooseDriver(opts.driver, driverOptions(opts, iso));
    cleanups.push(() => driver.close());
    for (const n of notes) opts.print(n);
    const fp = await driver.fingerprint();
    const addr = addressing(driver.name);
    const heartbeat: Heartbeat = await startHeartbeat(
      store,
      {
        id: hostId,
        region: opts.region,
        driver: driver.name,
        ...addr,
        capabilities: { suspend: fp.capabilities.suspend, exec: fp.capabilities.exec, isolation: fp.capabilities.isolation },
        started_at: new Date().toISOString(),
      },
      logger,
    );
    cleanups.push(() => heartbeat.stop());

    // before the agent re-attaches: leftovers go, running machines' networks come back
    if (iso) await iso.networking.restore();

    const agent = new Agent({
      store, bus, driver, hostId, dataDir: opts.dataDir, addressMode: addr.address_mode, logger: logger.child({ component: 'agent' }),
      ...(iso ? { images: iso.resolver, hostEnv: {} } : { hostEnv: processHostEnv(dns) }),
    });
    cleanups.push(() => agent.close({ stopMachines: opts.stopMachinesOnExit ?? false }));
    await agent.start();

    // --- health checks (src/checks): results into each machine's checks[]; stop before the agent ---
    const checks = new CheckRunner({ store, hostId, logger: logger.child({ component: 'checks' }) });
    await checks.start();
    cleanups.push(() => checks.close());
    // --- end health checks ---

    // --- edge proxy (src/server/proxy.ts): routes <app>.<base domain>, autostart/autostop ---
    const registry = serverRegistry(store);
    const proxy = await startServerProxy(opts.proxy, { store, bus, dataDir: opts.dataDir, region: opts.region, registry, ...(iso ? { images: iso.images } : {}), print: opts.print, warn: (line) => logger.warn(line), cleanups });
    // --- end edge proxy ---

    const api = buildApi({
      store, bus, dataDir: opts.dataDir, region: opts.region, logger: { level: opts.logLevel ?? 'info', stream: process.stderr },
      metrics: () => registry.metrics(),
    });
    cleanups.push(() => api.close());
    await api.listen({ host: apiHost, port: apiPort });
    const bound = api.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : apiPort;
    const url = `http://${urlHost(apiHost)}:${port}`;
    logger.info({ url, host: hostId, driver: driver.name, region: opts.region }, 'hangar server ready');
    if (adminToken) announceToken(opts, url, adminToken);
    // Last line of the start-up: scripts and tests wait for it.
    opts.print(`Machines API listening on ${url} (host ${hostId}, region ${opts.region})`);

    let closing: Promise<void> | undefined;
    return {
      url,
      hostId,
      logger,
      dnsAddr: dns.loopback,
      proxy,
      close: () => (closing ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * What process-driver machines inherit: the host's PATH (they run host binaries) and, when the
 * resolver listens, `HANGAR_DNS_ADDR` so a dev app can resolve `.internal` names (server/dns.ts).
 */
function processHostEnv(dns: RunningDns): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
  if (dns.loopback !== undefined) env.HANGAR_DNS_ADDR = dns.loopback;
  return env;
}

/**
 * First start: show the admin token once and point the CLI at this server, unless the CLI is
 * already configured for another API (then say how to use the token without touching it).
 */
function announceToken(opts: ServerOptions, url: string, token: string): void {
  const path = clientConfigPath(opts.env ?? process.env);
  opts.print(`Admin token (shown once; also in ${join(opts.dataDir, 'admin-token')}):`);
  opts.print(`  ${token}`);
  let existing: { api_url?: string } = {};
  try {
    existing = readClientConfig(path);
  } catch {
    existing = { api_url: '(unreadable config)' };
  }
  if (existing.api_url !== undefined && existing.api_url !== url) {
    opts.print(`The CLI config ${path} points at ${existing.api_url}; it was left unchanged. To use this server:`);
    opts.print(`  export HANGAR_API_URL=${url} HANGAR_API_TOKEN=${token}`);
    return;
  }
  writeClientConfig(path, { api_url: url, token });
  opts.print(`Wrote ${path}: the hangar CLI now talks to ${url}.`);
}

/**
 * Runs the server until SIGTERM or SIGINT, then shuts down and resolves with the exit code.
 * On a second signal during shutdown the process exits at once.
 */
export async function runServer(opts: ServerOptions): Promise<number> {
  const server = await startServer(opts);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      server.logger.info({ signal: sig }, opts.stopMachinesOnExit ? 'shutting down, stopping machines' : 'shutting down; machines keep running');
      server.close().then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve(0);
        },
        (err: unknown) => {
          server.logger.error({ err: String(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
