import { createServer, request, type Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseProxyHeader, type ParsedProxyHeader } from '../../src/core/proxy/proxy-proto.js';
import { buildRouteTable, type RouteMachine } from '../../src/core/proxy/table.js';
import type { MachinePort, MachineService } from '../../src/core/fly/machine-config.js';
import { ProxyServer, type ProxyServerOptions } from '../../src/proxy/server.js';

export async function httpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A started machine of `app` on 127.0.0.1:`port` (its internal port 8080) whose one service has `ports`. */
export function serviceMachine(id: string, app: string, port: number, ports: MachinePort[], concurrency: MachineService['concurrency'] = { type: 'requests', soft_limit: 20 }): RouteMachine {
  return {
    id,
    app,
    region: 'local',
    state: 'started',
    cordoned: false,
    checks: [],
    routing: { address: '127.0.0.1', ports: { '8080': port } },
    config: { services: [{ protocol: 'tcp', internal_port: 8080, ports, concurrency }] },
  };
}

export function httpMachine(id: string, port: number, concurrency: MachineService['concurrency'] = { type: 'requests', soft_limit: 20 }, app = 'web'): RouteMachine {
  return serviceMachine(id, app, port, [{ port: 80, handlers: ['http'] }], concurrency);
}

export async function startProxy(machines: RouteMachine[], opts: ProxyServerOptions = {}, apps = ['web']): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer({ region: 'tst', ...opts });
  await proxy.setTable(buildRouteTable(apps.map((name) => ({ name })), machines, { httpAddr: '127.0.0.1:0', httpsAddr: null }));
  await proxy.start();
  const port = proxy.addresses().find((a) => a.spec.publicPort === 80)!.port;
  return { proxy, port };
}

/** Sends raw bytes, collects everything until the server closes or `until` matches. */
export function raw(port: number, data: string | Buffer, until?: (s: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (until?.(out)) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.write(data);
  });
}

/** GET `url` (with `host` as the Host header when given) on its own connection or `agent`; status and body text. */
export function getText(url: string, host?: string, agent: Agent | false = false): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: Number(u.port), path: `${u.pathname}${u.search}`, headers: host ? { host } : {}, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A test app's side of PROXY protocol: collects `socket`'s bytes until they hold a whole header,
 * then stops reading them and hands over the header and the bytes after it.
 */
export function onProxyHeader(socket: Socket, then: (header: ParsedProxyHeader, rest: Buffer) => void): void {
  let got = Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    got = Buffer.concat([got, d]);
    const h = parseProxyHeader(got);
    if (!h) return;
    socket.off('data', onData);
    then(h, got.subarray(h.length));
  };
  socket.on('data', onData);
}
