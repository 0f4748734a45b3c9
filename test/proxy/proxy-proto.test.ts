import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { encodeProxyV1, encodeProxyV2, parseProxyHeader, ProxyHeaderError, proxyProtoVersion, type ParsedProxyHeader } from '../../src/core/proxy/proxy-proto.js';
import { buildRouteTable, type RouteMachine } from '../../src/core/proxy/table.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { proxyProtoPreamble } from '../../src/proxy/proxy-proto.js';
import { portOptionsFrom } from '../../src/proxy/tls/port-options.js';
import { onProxyHeader } from './helpers.js';

describe('PROXY header encoding', () => {
  const e4 = { srcAddress: '::ffff:192.0.2.1', srcPort: 51234, dstAddress: '198.51.100.7', dstPort: 5432 };

  it('v1: text line, IPv4-mapped peers as TCP4, mixed families as TCP6', () => {
    assert.equal(encodeProxyV1(e4), 'PROXY TCP4 192.0.2.1 198.51.100.7 51234 5432\r\n');
    assert.equal(encodeProxyV1({ ...e4, srcAddress: '2001:db8::1' }), 'PROXY TCP6 2001:db8::1 ::ffff:c633:6407 51234 5432\r\n');
    assert.equal(encodeProxyV1({ ...e4, srcAddress: 'garbage' }), 'PROXY UNKNOWN\r\n');
  });

  it('v2: the exact bytes of the spec', () => {
    const b = encodeProxyV2(e4);
    assert.equal(
      b.toString('hex'),
      '0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + 'c0000201' + 'c6336407' + 'c822' + '1538',
    );
    const six = encodeProxyV2({ srcAddress: '2001:db8::1', srcPort: 1, dstAddress: '::1', dstPort: 443 });
    assert.equal(six[13], 0x21);
    assert.equal(six.readUInt16BE(14), 36);
    assert.equal(six.length, 52);
    assert.equal(encodeProxyV2({ ...e4, srcPort: -1 }).toString('hex'), '0d0a0d0a000d0a515549540a20000000');
  });

  it('parses what it writes and refuses what is not a header', () => {
    assert.deepEqual(parseProxyHeader(encodeProxyV2(e4))?.src, { address: '192.0.2.1', port: 51234 });
    assert.deepEqual(parseProxyHeader(Buffer.from(encodeProxyV1(e4)))?.dst, { address: '198.51.100.7', port: 5432 });
    assert.equal(parseProxyHeader(encodeProxyV2(e4).subarray(0, 20)), null);
    assert.throws(() => parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')), ProxyHeaderError);
    assert.throws(() => parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n')), ProxyHeaderError);
  });

  it('reads proxy_proto_options.version, reporting unknown values', () => {
    assert.deepEqual(proxyProtoVersion(undefined), { version: 'v1' });
    assert.deepEqual(proxyProtoVersion({ version: 'v2' }), { version: 'v2' });
    const bad = proxyProtoVersion({ version: 'v3' });
    assert.equal(bad.version, 'v1');
    assert.match(bad.problem!, /v3/);
    const port = portOptionsFrom({ port: 5000, handlers: ['proxy_proto'], proxy_proto_options: { version: 'x' } });
    assert.equal(port.options.proxyProto, 'v1');
    assert.equal(port.problems.length, 1);
    assert.equal(portOptionsFrom({ port: 5000, handlers: [], proxy_proto_options: { version: 'v2' } }).options.proxyProto, undefined);
  });
});

describe('PROXY v2 through the proxy', () => {
  let app: Server;
  let proxy: ProxyServer;
  after(async () => {
    await proxy?.close();
    app?.close();
  });

  it('delivers the client address and port to the machine', async () => {
    const got: Buffer[] = [];
    app = createServer((s) => {
      s.on('data', (d) => {
        got.push(d);
        const all = Buffer.concat(got);
        const h = parseProxyHeader(all);
        if (h && all.length > h.length) s.end(JSON.stringify({ h, rest: all.subarray(h.length).toString() }));
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const machine: RouteMachine = {
      id: 'm1', app: 'db', region: 'local', state: 'started', cordoned: false, checks: [],
      routing: { address: '127.0.0.1', ports: { '5432': (app.address() as AddressInfo).port } },
      config: { services: [{ protocol: 'tcp', internal_port: 5432, ports: [{ port: 15432, handlers: ['proxy_proto'], proxy_proto_options: { version: 'v2' } }] }] },
    };
    proxy = new ProxyServer({ region: 'tst', upstreamPreamble: proxyProtoPreamble });
    const table = buildRouteTable([{ name: 'db' }], [machine], { httpAddr: '127.0.0.1:0', httpsAddr: null, portMap: { '15432': '127.0.0.1:0' } });
    await proxy.setTable(table);
    await proxy.start();
    const port = proxy.addresses().find((a) => a.spec.publicPort === 15432)!.port;
    const reply = await new Promise<string>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => c.write('hello'));
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('end', () => resolve(JSON.stringify({ out, local: c.localPort })));
      c.on('error', reject);
    });
    const { out, local } = JSON.parse(reply) as { out: string; local: number };
    const { h, rest } = JSON.parse(out) as { h: { version: number; src: { address: string; port: number }; dst: { port: number } }; rest: string };
    assert.equal(h.version, 2);
    assert.deepEqual(h.src, { address: '127.0.0.1', port: local });
    assert.equal(h.dst.port, 15432);
    assert.equal(rest, 'hello');
  });
});

describe('PROXY v1 on an http port', () => {
  let app: Server | undefined;
  let proxy: ProxyServer | undefined;
  after(async () => {
    await proxy?.close();
    app?.close();
  });

  it('gives each client connection its own upstream connection, starting with that client’s header', async () => {
    // The app: reads the PROXY header, then serves HTTP/1.1 on the rest of the connection.
    const web = createHttpServer((req, res) => {
      const h = (req.socket as typeof req.socket & { proxied?: ParsedProxyHeader }).proxied;
      res.end(JSON.stringify({ src: h?.src, dst: h?.dst, version: h?.version, conn: (req.socket as typeof req.socket & { n?: number }).n, xff: req.headers['x-forwarded-for'] }));
    });
    let conns = 0;
    app = createServer((s) => {
      const n = ++conns;
      onProxyHeader(s, (h, rest) => {
        Object.assign(s, { proxied: h, n });
        s.unshift(rest);
        web.emit('connection', s);
      });
    });
    await new Promise<void>((r) => app!.listen(0, '127.0.0.1', r));
    const machine: RouteMachine = {
      id: 'm1', app: 'web', region: 'local', state: 'started', cordoned: false, checks: [],
      routing: { address: '127.0.0.1', ports: { '8080': (app.address() as AddressInfo).port } },
      config: { services: [{ protocol: 'tcp', internal_port: 8080, concurrency: { type: 'requests', soft_limit: 20 }, ports: [{ port: 80, handlers: ['http', 'proxy_proto'] }] }] },
    };
    proxy = new ProxyServer({ region: 'tst', upstreamPreamble: proxyProtoPreamble });
    await proxy.setTable(buildRouteTable([{ name: 'web' }], [machine], { httpAddr: '127.0.0.1:0', httpsAddr: null }));
    await proxy.start();
    const port = proxy.addresses().find((a) => a.spec.publicPort === 80)!.port;

    /** Two keep-alive requests on one client connection; the replies and the client's port. */
    const twoRequests = () =>
      new Promise<{ replies: { src: { address: string; port: number }; dst: { port: number }; version: number; conn: number; xff: string }[]; local: number }>((resolve, reject) => {
        const c = connect(port, '127.0.0.1');
        let buf = '';
        const replies: string[] = [];
        const req = 'GET / HTTP/1.1\r\nHost: web.localhost\r\n\r\n';
        c.on('data', (d) => {
          buf += d.toString();
          const m = /\r\n\r\n(\{.*\})$/.exec(buf);
          if (!m) return;
          replies.push(m[1]!);
          buf = buf.slice(m.index + m[0].length);
          if (replies.length === 1) c.write(req);
          else {
            const local = c.localPort!;
            c.destroy();
            resolve({ replies: replies.map((r) => JSON.parse(r)), local });
          }
        });
        c.on('error', reject);
        c.write(req);
      });
    const [a, b] = await Promise.all([twoRequests(), twoRequests()]);
    for (const x of [a, b]) {
      for (const r of x.replies) {
        assert.equal(r.version, 1);
        assert.deepEqual(r.src, { address: '127.0.0.1', port: x.local }, 'the header names this client');
        assert.equal(r.dst.port, 80, 'the public port the client addressed');
        assert.equal(r.xff, '127.0.0.1');
      }
      assert.equal(x.replies[0]!.conn, x.replies[1]!.conn, "a client's requests share its upstream connection");
    }
    assert.notEqual(a.replies[0]!.conn, b.replies[0]!.conn, 'clients never share one');
    assert.equal(conns, 2);
  });
});
