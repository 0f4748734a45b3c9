import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, LEASE_NONCE_HEADER } from '../../src/client/api.js';
import { ClientError, isClientError } from '../../src/client/errors.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A tiny stand-in API: answers from a route table and records every request. */
function startStub(routes: Record<string, (req: Seen) => { status: number; body?: unknown; raw?: string }>): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      const key = `${s.method} ${s.url.split('?')[0]}`;
      const handler = routes[key];
      const r = handler ? handler(s) : { status: 404, body: { error: `no route ${key}` } };
      res.statusCode = r.status;
      if (r.raw !== undefined) res.end(r.raw);
      else if (r.body === undefined) res.end();
      else {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(r.body));
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, seen });
    });
  });
}

describe('ApiClient against a stub API', () => {
  let stub: Awaited<ReturnType<typeof startStub>>;
  let waits = 0;
  before(async () => {
    stub = await startStub({
      'GET /v1/apps': () => ({ status: 200, body: { total_apps: 1, apps: [{ id: 'a1', name: 'hello' }] } }),
      'GET /v1/apps/ghost': () => ({ status: 404, body: { error: 'app not found' } }),
      'GET /v1/apps/hello/machines/nope': () => ({ status: 404, body: { error: 'machine not found' } }),
      'POST /v1/apps': () => ({ status: 422, body: { error: 'Name has already been taken', status: 'name_taken' } }),
      'POST /v1/apps/hello/machines': (r) => ({ status: 200, body: { id: 'm1', name: 'n', state: 'created', config: JSON.parse(r.body).config } }),
      'POST /v1/apps/hello/machines/m1/stop': () => ({ status: 200, body: { ok: true } }),
      'DELETE /v1/apps/hello/machines/m1': () => ({ status: 200, raw: '' }),
      'GET /v1/apps/hello/machines/m1/wait': () => {
        waits += 1;
        return waits < 3 ? { status: 408, body: { error: 'deadline exceeded' } } : { status: 200, body: { ok: true } };
      },
      'GET /v1/apps/hello/machines/m2/lease': () => ({ status: 409, body: { error: 'lease currently held by someone', message: 'held by x' } }),
      'GET /api/v1/whoami': () => ({ status: 200, body: { org: 'personal', role: 'admin', token_name: 'admin' } }),
      'GET /api/v1/oops': () => ({ status: 500, raw: 'upstream exploded' }),
      'GET /api/v1/html': () => ({ status: 200, raw: '<html>not json</html>' }),
    });
  });
  after(() => new Promise<void>((resolve) => stub.server.close(() => resolve())));

  const client = () => new ApiClient({ apiUrl: `${stub.url}/`, token: 'Bearer sekrit' });

  it('sends a Bearer token (a pasted scheme is stripped) and parses JSON', async () => {
    const apps = await client().listApps('personal');
    assert.deepEqual(apps.map((a) => a.name), ['hello']);
    const last = stub.seen.at(-1);
    assert.equal(last?.headers.authorization, 'Bearer sekrit');
    assert.equal(last?.url, '/v1/apps?org_slug=personal');
  });

  it('turns {error} bodies into coded errors carrying the API message', async () => {
    await assert.rejects(client().getApp('ghost'), (err: unknown) => {
      assert.ok(isClientError(err, 'HANGAR_ERR_API_NOT_FOUND'));
      assert.equal(err.message, 'app not found');
      assert.equal(err.httpStatus, 404);
      assert.match(err.suggestion, /No app named "ghost".*hangar apps create ghost/);
      assert.equal(err.spec.user, true);
      return true;
    });
  });

  it('names the machine listing when a machine is missing', async () => {
    await assert.rejects(client().getMachine('hello', 'nope'), (err: unknown) => {
      assert.ok(isClientError(err, 'HANGAR_ERR_API_NOT_FOUND'));
      assert.match(err.suggestion, /hangar machine list -a hello/);
      return true;
    });
  });

  it("keeps Fly's status value and prefers `message` over `error`", async () => {
    await assert.rejects(client().createApp({ app_name: 'hello' }), (err: unknown) => {
      assert.ok(isClientError(err, 'HANGAR_ERR_API_INVALID'));
      assert.equal(err.flyStatus, 'name_taken');
      assert.equal(err.message, 'Name has already been taken');
      return true;
    });
    await assert.rejects(client().getLease('hello', 'm2'), (err: unknown) => {
      assert.ok(isClientError(err, 'HANGAR_ERR_API_CONFLICT'));
      assert.equal(err.message, 'held by x');
      return true;
    });
  });

  it('reports a non-JSON error body with the status and the text', async () => {
    await assert.rejects(client().http.request('GET', '/api/v1/oops'), (err: unknown) => {
      assert.ok(isClientError(err, 'HANGAR_ERR_API_SERVER'));
      assert.match(err.message, /returned 500: upstream exploded/);
      assert.equal(err.spec.user, false);
      return true;
    });
  });

  it('reports a 2xx body that is not JSON', async () => {
    await assert.rejects(client().http.request('GET', '/api/v1/html'), (err: unknown) => isClientError(err, 'HANGAR_ERR_API_RESPONSE'));
  });

  it('sends JSON bodies, lease nonces and empty bodies correctly', async () => {
    const m = await client().createMachine('hello', { config: { image: 'dir:/x' } });
    assert.equal(m.id, 'm1');
    assert.equal(stub.seen.at(-1)?.headers['content-type'], 'application/json');
    await client().stopMachine('hello', 'm1', { signal: 'SIGTERM', timeout: '5s' }, { nonce: 'n0nce' });
    const stop = stub.seen.at(-1);
    assert.equal(stop?.headers[LEASE_NONCE_HEADER], 'n0nce');
    assert.deepEqual(JSON.parse(stop?.body ?? ''), { signal: 'SIGTERM', timeout: '5s' });
    await client().destroyMachine('hello', 'm1', { force: true });
    assert.equal(stub.seen.at(-1)?.url, '/v1/apps/hello/machines/m1?force=true');
  });

  it('waits across 408 answers until the machine gets there', async () => {
    await client().waitMachine('hello', 'm1', 'started', { timeoutMs: 30_000, instanceId: 'v1' });
    const waitReqs = stub.seen.filter((s) => s.url.startsWith('/v1/apps/hello/machines/m1/wait'));
    assert.equal(waitReqs.length, 3);
    assert.match(waitReqs[0]?.url ?? '', /state=started&timeout=\d+&instance_id=v1/);
  });

  it('reads the Hangar-only whoami route', async () => {
    assert.deepEqual(await client().whoami(), { org: 'personal', role: 'admin', token_name: 'admin' });
  });

  it('reports a refused connection as HANGAR_ERR_API_UNREACHABLE', async () => {
    const dead = await startStub({});
    const url = dead.url;
    await new Promise<void>((resolve) => dead.server.close(() => resolve()));
    const c = new ApiClient({ apiUrl: url, token: 't' });
    await assert.rejects(c.whoami(), (err: unknown) => {
      assert.ok(err instanceof ClientError);
      assert.equal(err.clientCode, 'HANGAR_ERR_API_UNREACHABLE');
      assert.match(err.message, /cannot reach the Hangar API at http:\/\/127\.0\.0\.1:\d+: connection refused/);
      assert.match(err.suggestion, /hangar server/);
      return true;
    });
  });
});
