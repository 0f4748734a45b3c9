import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pick } from '../../../src/core/proxy/balance.js';
import { expandRegionList, regionRouting, regionsIn } from '../../../src/core/proxy/region.js';
import {
  fallbackPlan,
  formatReplayFailed,
  formatReplaySrc,
  parseReplayHeader,
  parseReplayJson,
  replayPlan,
  ReplayInvalidError,
  rewriteReplayHead,
} from '../../../src/core/proxy/replay.js';
import { buildRouteTable, routeForHost } from '../../../src/core/proxy/table.js';
import type { Route } from '../../../src/core/proxy/types.js';
import { machine } from './fixtures.js';

const SRC = { app: 'web', machineId: 'm1', region: 'ams' };

test('header form: every field, quoted lists, several headers read as one', () => {
  assert.deepEqual(parseReplayHeader(['region=sjc']), { regions: ['sjc'], elsewhere: false });
  assert.deepEqual(parseReplayHeader(['region="iad,ord,us,na"; app=other ;state="a;b"', 'elsewhere=true;timeout=800ms;fallback=prefer_self']), {
    regions: ['iad', 'ord', 'us', 'na'],
    app: 'other',
    state: 'a;b',
    elsewhere: true,
    timeoutMs: 800,
    fallback: 'prefer_self',
  });
  assert.deepEqual(parseReplayHeader(['instance=00bb33ff']), { instance: '00bb33ff', elsewhere: false });
  assert.deepEqual(parseReplayHeader(['prefer_instance=abc;timeout=10s']), { preferInstance: 'abc', elsewhere: false, timeoutMs: 10_000 });
});

test('header form: malformed directives are errors that say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['region=iad,ord', /a list must be quoted \(region="iad,ord"\)/],
    ['regoin=iad', /unknown field 'regoin'/],
    ['instance=a;instance=b', /given more than once/],
    ['instance=a;prefer_instance=b', /cannot both be set/],
    ['elsewhere=yes', /elsewhere must be true or false/],
    ['timeout=soon', /timeout 'soon' is not a positive duration/],
    ['fallback=elsewhere', /fallback must be force_self or prefer_self/],
    ['region="iad', /unterminated quoted value/],
    ['app', /is not a name=value pair/],
    ['', /the header is empty/],
    ['app=a b', /not a valid app name/],
  ];
  for (const [value, re] of cases) {
    assert.throws(() => parseReplayHeader([value]), (e: unknown) => e instanceof ReplayInvalidError && e.code === 'HANGAR_ERR_PROXY_REPLAY_INVALID' && re.test(e.message), value);
  }
});

test('JSON form: same fields plus transform and cache; the cache rule; header injection refused', () => {
  assert.deepEqual(
    parseReplayJson(JSON.stringify({ app: 'api', region: 'lhr,eu', elsewhere: true, transform: { path: '/v2/x', delete_headers: ['Cookie'], set_headers: [{ name: 'X-Tenant', value: 'acme' }] } })),
    { app: 'api', regions: ['lhr', 'eu'], elsewhere: true, transform: { path: '/v2/x', deleteHeaders: ['cookie'], setHeaders: [{ name: 'X-Tenant', value: 'acme' }] } },
  );
  assert.deepEqual(parseReplayJson('{"region":["syd"],"cache":{"prefix":"/some/*","ttl":30}}'), { regions: ['syd'], elsewhere: false, cache: { prefix: '/some/*', ttlSecs: 30, invalidate: false } });
  const bad: [string, RegExp][] = [
    ['not json', /body is not JSON/],
    ['[1]', /must be a JSON object/],
    ['{"app":"x","cache":{"prefix":"/a/*"},"state":"s"}', /meant to be cached may not carry/],
    ['{"cache":{"prefix":"/a/*","ttl":5}}', /at least 10/],
    ['{"transform":{"set_headers":[{"name":"X","value":"a\\r\\nEvil: 1"}]}}', /without control characters/],
    ['{"transform":{"set_headers":[{"name":"Content-Length","value":"0"}]}}', /may not change the Content-Length header/],
    ['{"transform":{"delete_headers":["host"]}}', /may not delete the host header/],
    ['{"transform":{"path":"no-slash"}}', /must start with \//],
    ['{"elsewhere":"true"}', /elsewhere must be true or false/],
    ['{"bogus":1}', /unknown field 'bogus'/],
  ];
  for (const [body, re] of bad) assert.throws(() => parseReplayJson(body), re, body);
});

test('region aliases expand to groups; a forced list is a preference only with any', () => {
  // current regions and the retired ones older apps still name (atl, bos, sea, ...)
  assert.deepEqual(regionsIn('us'), ['atl', 'bos', 'den', 'dfw', 'ewr', 'iad', 'lax', 'mia', 'ord', 'phx', 'sea', 'sjc']);
  assert.deepEqual(regionsIn('na'), ['atl', 'bos', 'den', 'dfw', 'ewr', 'gdl', 'iad', 'lax', 'mia', 'ord', 'phx', 'qro', 'sea', 'sjc', 'yul', 'yyz']);
  assert.deepEqual(regionsIn('sa'), ['bog', 'eze', 'gru', 'scl']);
  assert.deepEqual(regionsIn('apac'), ['bom', 'hkg', 'nrt', 'sin', 'syd']);
  const l = expandRegionList(['iad', 'ord', 'usa', 'na']);
  // iad and ord stay alone and first; `us` brings the rest of the US; `na` only what is left.
  assert.deepEqual(l.groups, ['iad', 'ord', ['atl', 'bos', 'den', 'dfw', 'ewr', 'lax', 'mia', 'phx', 'sea', 'sjc'], ['gdl', 'qro', 'yul', 'yyz']]);
  assert.equal(l.any, false);
  assert.deepEqual(expandRegionList(['sjc', 'any']), { groups: ['sjc'], regions: ['sjc'], any: true });
  assert.deepEqual(expandRegionList(['local']).regions, ['local'], 'an unknown code is a region of its own');
  assert.deepEqual(regionRouting(['lhr', 'eu'], true).forceRegions, ['lhr', 'ams', 'arn', 'cdg', 'fra', 'mad', 'otp', 'waw']);
  assert.deepEqual(regionRouting(['sjc', 'any'], true), { preferRegions: ['sjc'] });
  assert.deepEqual(regionRouting(['iad'], false), { preferRegions: ['iad'] });
});

function route(...ms: ReturnType<typeof machine>[]): Route {
  return routeForHost(buildRouteTable([{ name: 'web' }], ms), 80, 'web.localhost')!;
}

test('the balancer with aliases: listed order first, the nearest region of an alias, force keeps out the rest', () => {
  const r = route(machine('a', { region: 'ams' }), machine('f', { region: 'fra' }), machine('l', { region: 'lhr' }), machine('i', { region: 'iad' }), machine('s', { region: 'syd' }));
  const opts = { region: 'ams', distances: { ams: { fra: 10, lhr: 8, iad: 90, syd: 300 } }, random: () => 0.5 };
  const who = (req: Parameters<typeof pick>[1], load: Record<string, number> = {}) => {
    const p = pick(r, req, new Map(Object.entries(load)), opts);
    return p.kind === 'machine' ? p.backend.machineId : p.kind;
  };
  assert.equal(who(regionRouting(['us', 'eu'], false)), 'i');
  // `eu` is one tier: its nearest region first (ams, distance 0), not the table's order.
  assert.equal(who(regionRouting(['apac', 'eu'], false), { 's:8080': 100 }), 'a');
  assert.equal(who(regionRouting(['eu'], false), { 'a:8080': 100 }), 'l', 'at the hard limit ams is skipped; lhr (8) before fra (10)');
  assert.equal(who(regionRouting(['sa'], true)), 'reject');
  assert.equal(who(regionRouting(['sa', 'any'], true)), 'a', 'with any the list is only a preference');
  assert.equal(who({ excludeMachine: 'a' }), 'l');
});

test('plans: instance, prefer_instance, region, app, elsewhere; fallbacks go back to the source', () => {
  assert.deepEqual(replayPlan(parseReplayHeader(['instance=m2']), SRC), { app: 'web', pick: { forceInstance: 'm2' } });
  assert.deepEqual(replayPlan(parseReplayHeader(['prefer_instance=m2']), SRC), { app: 'web', pick: { preferInstance: 'm2' } });
  assert.deepEqual(replayPlan(parseReplayHeader(['region=syd']), SRC), { app: 'web', pick: { forceRegions: ['syd'], preferRegions: ['syd'] } });
  assert.deepEqual(replayPlan(parseReplayHeader(['elsewhere=true']), SRC), { app: 'web', pick: { excludeMachine: 'm1' } });
  assert.deepEqual(replayPlan(parseReplayHeader(['app=api;elsewhere=true']), SRC), { app: 'api', pick: {} }, 'elsewhere only leaves out a machine of the same app');
  assert.deepEqual(fallbackPlan('force_self', SRC), { app: 'web', pick: { forceInstance: 'm1' } });
  assert.deepEqual(fallbackPlan('prefer_self', SRC), { app: 'web', pick: { preferInstance: 'm1' } });
});

test('fly-replay-src and fly-replay-failed lines', () => {
  assert.equal(formatReplaySrc(SRC, 1700000000000000, undefined), 'fly-replay-src: instance=m1;region=ams;t=1700000000000000\r\n');
  assert.equal(formatReplaySrc(SRC, 5, 'why'), 'fly-replay-src: instance=m1;region=ams;t=5;state=why\r\n');
  assert.equal(
    formatReplayFailed(parseReplayHeader(['instance=gone;fallback=prefer_self']), SRC, 'no_candidate', 12.4),
    'fly-replay-failed: instance=gone;app=web;replay_source=m1;reason=no_candidate;elapsed_ms=12\r\n',
  );
  assert.equal(formatReplayFailed(parseReplayHeader(['region="iad,us";app=api']), SRC, 'timeout', 3), 'fly-replay-failed: app=api;region=iad,us;replay_source=m1;reason=timeout;elapsed_ms=3\r\n');
});

test('rewriteReplayHead: path (query kept unless given), deleted and set headers, earlier replay lines dropped', () => {
  const head = 'POST /api/users?page=2 HTTP/1.1\r\nHost: web.localhost\r\nCookie: a=1\r\nX-Tenant: old\r\nfly-replay-src: instance=x\r\nContent-Length: 3\r\n';
  assert.equal(
    rewriteReplayHead(head, { path: '/users', deleteHeaders: ['cookie'], setHeaders: [{ name: 'X-Tenant', value: 'acme' }] }),
    'POST /users?page=2 HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 3\r\nX-Tenant: acme\r\n',
  );
  assert.equal(rewriteReplayHead(head, { path: '/v2?x=1', deleteHeaders: [], setHeaders: [] }).split('\r\n')[0], 'POST /v2?x=1 HTTP/1.1');
  assert.equal(rewriteReplayHead(head, undefined), 'POST /api/users?page=2 HTTP/1.1\r\nHost: web.localhost\r\nCookie: a=1\r\nX-Tenant: old\r\nContent-Length: 3\r\n');
});
