/**
 * `http_options.idle_timeout` (seconds, per port) and the proxy's default idle timeout: a client
 * connection with no bytes either way for that long is closed; traffic keeps it open.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { RouteMachine } from '../../src/core/proxy/table.js';
import type { ProxyServer } from '../../src/proxy/server.js';
import { httpMachine, httpUpstream, startProxy } from './helpers.js';

/** Opens a connection, sends one request, and reports when (ms after the response) the proxy closed it. */
function closedAfter(port: number, host: string, pings: number[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let answered = 0;
    let buf = '';
    const req = `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (answered === 0 && buf.endsWith('ok')) {
        answered = Date.now();
        // Requests at these offsets are traffic: each one restarts the idle clock.
        for (const at of pings) setTimeout(() => s.write(req), at);
      }
    });
    s.on('close', () => (answered ? resolve(Date.now() - answered) : reject(new Error(`closed before answering: ${buf}`))));
    s.on('error', reject);
    s.write(req);
  });
}

describe('idle timeout of client connections', () => {
  let proxy: ProxyServer | undefined;
  let app: Server | undefined;
  after(async () => {
    await proxy?.close();
    app?.close();
  });

  it("closes idle connections after the route's idle_timeout, else after the proxy's default", async () => {
    const up = await httpUpstream((_req, res) => res.end('ok'));
    app = up.server;
    const base = httpMachine('m1', up.port);
    const withIdle: RouteMachine = {
      ...base,
      config: { services: [{ ...base.config.services![0]!, ports: [{ port: 80, handlers: ['http'], http_options: { idle_timeout: 1 } }] }] },
    };
    const plain = httpMachine('m2', up.port, undefined, 'plain');
    const started = await startProxy([withIdle, plain], { idleTimeoutMs: 300 }, ['web', 'plain']);
    proxy = started.proxy;
    const [def, route, busy] = await Promise.all([
      closedAfter(started.port, 'plain.localhost'),
      closedAfter(started.port, 'web.localhost'),
      closedAfter(started.port, 'plain.localhost', [200, 400, 600]),
    ]);
    assert.ok(def >= 250 && def < 900, `default idle timeout 300 ms: closed after ${def} ms`);
    assert.ok(route >= 950 && route < 2500, `idle_timeout = 1 (second): closed after ${route} ms`);
    assert.ok(busy >= 850, `requests every 200 ms keep it open until 300 ms after the last: closed after ${busy} ms`);
  });
});
