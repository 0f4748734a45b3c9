import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
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
