import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { RouteMachine } from '../../src/core/proxy/table.js';
import type { ProxyServer } from '../../src/proxy/server.js';
import { httpMachine, httpUpstream, raw, startProxy } from './helpers.js';
import { compileResponseOptions, rewriteResponseHead, rewriteResponseHeaders } from '../../src/proxy/response-options.js';

describe('http_options.response', () => {
  const { options, problems } = compileResponseOptions({ headers: { 'X-Frame-Options': 'DENY', 'X-Multi': ['a', 'b'], 'X-Powered-By': false } });

  it('adds (replacing the app’s), lists and removes on an HTTP/1.1 head', () => {
    assert.deepEqual(problems, []);
    const head = 'HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\n  folded\r\nx-frame-options: SAMEORIGIN\r\nContent-Length: 2\r\n';
    assert.equal(rewriteResponseHead(head, options!), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Frame-Options: DENY\r\nX-Multi: a\r\nX-Multi: b\r\n');
  });

  it('does the same on an HTTP/2 header object', () => {
    const h = rewriteResponseHeaders({ ':status': 200, 'x-powered-by': 'x', 'x-frame-options': 'SAMEORIGIN' }, options!);
    assert.deepEqual(h, { ':status': 200, 'x-frame-options': 'DENY', 'x-multi': ['a', 'b'] });
  });

  it('reports invalid entries and keeps the valid ones', () => {
    const r = compileResponseOptions({ headers: { 'bad name': 'x', 'Content-Length': '1', 'X-Ok': 'y', 'X-Num': 5, 'X-CRLF': 'a\r\nb' } });
    assert.equal(r.problems.length, 4);
    assert.deepEqual(r.options?.add, [['X-Ok', 'y']]);
  });

  it('is null when nothing changes, and carries pristine', () => {
    assert.equal(compileResponseOptions(undefined).options, null);
    assert.equal(compileResponseOptions({ pristine: true }).options?.pristine, true);
  });
});

describe('http_options.response on proxied HTTP/1.1 responses', () => {
  let proxy: ProxyServer | undefined;
  let app: Server | undefined;
  after(async () => {
    await proxy?.close();
    app?.close();
  });

  it('adds, replaces and removes headers on routes that set them; other routes pass the head untouched', async () => {
    const up = await httpUpstream((req, res) => {
      res.setHeader('X-Powered-By', 'Express');
      res.setHeader('X-Frame-Options', 'SAMEORIGIN');
      res.setHeader('X-Keep', 'yes');
      if (req.url === '/chunked') {
        res.write('a');
        res.end('b');
      } else res.end('ok');
    });
    app = up.server;
    const withHeaders: RouteMachine = {
      ...httpMachine('m1', up.port),
      config: {
        services: [
          {
            protocol: 'tcp',
            internal_port: 8080,
            concurrency: { type: 'requests', soft_limit: 20 },
            ports: [{ port: 80, handlers: ['http'], http_options: { response: { headers: { 'X-Powered-By': false, 'X-Frame-Options': 'DENY', 'X-Multi': ['a', 'b'] } } } }],
          },
        ],
      },
    };
    const plain = httpMachine('m2', up.port, undefined, 'plain');
    const started = await startProxy([withHeaders, plain], {}, ['web', 'plain']);
    proxy = started.proxy;
    const get = (host: string, path: string) =>
      raw(started.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, (s) => s.endsWith('ok') || s.endsWith('0\r\n\r\n'));
    const rewritten = await get('web.localhost', '/');
    const head = rewritten.slice(0, rewritten.indexOf('\r\n\r\n'));
    assert.doesNotMatch(head, /X-Powered-By/i);
    assert.doesNotMatch(head, /SAMEORIGIN/);
    assert.match(head, /\r\nX-Frame-Options: DENY\r\n/);
    assert.match(head, /\r\nX-Multi: a\r\nX-Multi: b\r\n/);
    assert.match(head, /\r\nX-Keep: yes\r\n/);
    assert.match(head, /\r\nFly-Request-Id: /, "the proxy's own lines are still added");
    assert.ok(rewritten.endsWith('\r\n\r\nok'));
    const chunked = await get('web.localhost', '/chunked');
    assert.match(chunked, /\r\nX-Frame-Options: DENY\r\n/);
    assert.match(chunked, /\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n$/);
    const untouched = await get('plain.localhost', '/');
    assert.match(untouched, /\r\nX-Powered-By: Express\r\n/);
    assert.match(untouched, /\r\nX-Frame-Options: SAMEORIGIN\r\n/);
    assert.doesNotMatch(untouched, /X-Multi/);
  });
});
