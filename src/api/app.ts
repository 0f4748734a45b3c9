/**
 * The control plane's HTTP API: Fly's Machines API under `/v1` (reference §1a, lenient inputs
 * and strict outputs per §4) and Hangar-only routes under `/api/v1`. `hangar server` calls
 * `buildApi` and then `listen`; tests use `inject`.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Bus } from '../bus/types.js';
import type { StateStore } from '../store/types.js';
import type { ControlContext } from '../control/context.js';
import { newUlid } from '../control/ids.js';
import { Secrets } from '../control/secrets.js';
import { WaitHub } from '../control/wait.js';
import { MachineListCache } from '../control/machine-list.js';
import { installAuth } from './auth.js';
import type { Services } from './context.js';
import { installErrorHandlers, installJsonParser } from './errors.js';
import { appRoutes } from './routes/apps.js';
import { hangarRoutes } from './routes/hangar.js';
import { leaseRoutes } from './routes/leases.js';
import { machineActionRoutes } from './routes/machine-actions.js';
import { machineRoutes } from './routes/machines.js';
import { secretRoutes } from './routes/secrets.js';
import { volumeRoutes } from './routes/volumes.js';

export interface ApiDeps {
  store: StateStore;
  bus: Bus;
  dataDir: string;
  /** Fastify's `logger` option (pino options, e.g. `{ level, stream }`), or false. */
  logger?: boolean | object;
  /** Region suffix of `fly-request-id` (`<ulid>-<region>`); default `local`. */
  region?: string;
  /** Clock (ms since the epoch) for leases, events and timestamps; tests pass a fake one. */
  now?: () => number;
  /** Prometheus text for `GET /metrics` (the server's registry); no route without it. */
  metrics?: () => string | Promise<string>;
}

/** Largest request body accepted (machine configs with files can be large; Fly's own limit is not documented). */
const BODY_LIMIT = 4 * 1024 * 1024;

export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: deps.logger ?? false, bodyLimit: BODY_LIMIT, routerOptions: { maxParamLength: 200 } });
  const ctx: ControlContext = { store: deps.store, bus: deps.bus, dataDir: deps.dataDir, now: deps.now ?? Date.now };
  const services: Services = { ctx, waits: new WaitHub(deps.store), secrets: new Secrets(ctx), machineList: new MachineListCache(ctx) };
  const region = deps.region ?? 'local';

  // first hook: every response, errors and 404s included, carries a request id (reference §1a)
  app.addHook('onRequest', async (_req, reply) => {
    reply.header('fly-request-id', `${newUlid()}-${region}`);
  });
  installJsonParser(app);
  installErrorHandlers(app);
  installAuth(app, ctx);

  appRoutes(app, services);
  machineRoutes(app, services);
  machineActionRoutes(app, services);
  leaseRoutes(app, services);
  volumeRoutes(app, services);
  secretRoutes(app, services);
  hangarRoutes(app, services);
  const metrics = deps.metrics;
  if (metrics) {
    // Prometheus scrapes without credentials, as from Fly's own metrics endpoints; nothing secret is in it.
    app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics()));
  }

  app.addHook('onClose', async () => services.waits.close());
  return app;
}
