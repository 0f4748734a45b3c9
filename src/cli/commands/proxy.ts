/**
 * `hangar proxy`: only the edge proxy, against a data dir's store (split deployments: the API
 * and agents run elsewhere and share the store). Autostart and autostop write the same
 * machine transitions the API does, through the store. Serves `/metrics` on `--metrics-addr`.
 * Runs until SIGTERM/SIGINT. Flags are declared in src/cli/registry.ts.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { MemoryBus } from '../../bus/memory/bus.js';
import { resolveDataDir } from '../../env.js';
import { DEFAULT_REGION } from '../../server/setup.js';
import { proxyOptionsFromFlags, startProxy, type ProxyFlags } from '../../server/proxy.js';
import { splitAddr } from '../../proxy/listeners.js';
import { SqliteStore } from '../../store/sqlite/store.js';
import type { CommandContext } from '../registry.js';

export interface ProxyCommandFlags extends ProxyFlags {
  dataDir?: string;
  region?: string;
  /** `host:port` for `/metrics` (default 127.0.0.1:9091; `off` for none). */
  metricsAddr?: string;
}

export async function run(ctx: CommandContext<ProxyCommandFlags>): Promise<number> {
  const o = ctx.options;
  let proxyOpts;
  try {
    proxyOpts = proxyOptionsFromFlags({ ...o, proxy: true });
  } catch (err) {
    ctx.out.err(`Error: ${(err as Error).message}`);
    return 1;
  }
  if (proxyOpts === false) return 0;
  const dataDir = resolveDataDir(o.dataDir);
  const store = new SqliteStore({ path: join(dataDir, 'hangar.db') });
  const bus = new MemoryBus();
  const running = await startProxy({
    ...proxyOpts,
    store,
    bus,
    dataDir,
    region: o.region ?? DEFAULT_REGION,
    log: (level, msg) => (level === 'info' ? ctx.out.line(msg) : ctx.out.err(msg)),
  });
  const metricsAddr = o.metricsAddr ?? '127.0.0.1:9091';
  const metrics =
    metricsAddr === 'off'
      ? undefined
      : createServer((req, res) => {
          if (req.url !== '/metrics') {
            res.writeHead(404).end();
            return;
          }
          running.metricsText().then(
            (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
            (err: Error) => res.writeHead(500).end(`metrics: ${err.message}\n`),
          );
        });
  if (metrics) {
    const { host, port } = splitAddr(metricsAddr);
    await new Promise<void>((resolve) => {
      metrics.once('error', (err) => {
        ctx.out.err(`metrics: cannot listen on ${metricsAddr}: ${err.message}`);
        resolve();
      });
      metrics.listen(port, host, () => {
        const a = metrics.address();
        ctx.out.line(`Metrics on http://${host}:${typeof a === 'object' && a ? a.port : port}/metrics`);
        resolve();
      });
    });
  }
  return new Promise<number>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      metrics?.close();
      void running
        .close()
        .then(() => Promise.all([bus.close(), store.close()]))
        .then(() => resolve(0), () => resolve(1));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
