/**
 * bench/proxy helper: Hangar's proxy alone in its own process (so it can be pinned to one core
 * and its CPU time read from /proc). argv: <upstream port> <http listen port> <tcp listen port>.
 */
import { buildRouteTable } from '../src/core/proxy/table.js';
import { ProxyServer } from '../src/proxy/server.js';

const [upstream, httpPort, tcpPort] = process.argv.slice(2).map(Number);
const proxy = new ProxyServer({ region: 'bench' });
const routing = { address: '127.0.0.1', ports: { '8080': upstream!, '7000': upstream! } };
const machine = {
  id: 'm1',
  app: 'web',
  region: 'bench',
  state: 'started' as const,
  cordoned: false,
  checks: [],
  routing,
  config: {
    services: [
      { protocol: 'tcp' as const, internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], concurrency: { type: 'requests' as const, soft_limit: 1000, hard_limit: 2000 } },
      { protocol: 'tcp' as const, internal_port: 7000, ports: [{ port: 7000 }], concurrency: { type: 'connections' as const, soft_limit: 1000 } },
    ],
  },
};
await proxy.setTable(buildRouteTable([{ name: 'web' }], [machine], { httpAddr: `127.0.0.1:${httpPort}`, httpsAddr: null, portMap: { '7000': `127.0.0.1:${tcpPort}` } }));
await proxy.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
