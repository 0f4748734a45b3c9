/**
 * One health-check attempt against a machine: a TCP connect or an HTTP(S) request, bounded by
 * the check's timeout. Never throws: every failure becomes a short `output` ("connection
 * refused", "timeout after 2s", "HTTP 500 from GET /health").
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP } from 'node:net';
import type { CheckSpec } from '../core/checks/spec.js';
import { httpStatusPasses, msText, type ProbeOutcome } from '../core/checks/status.js';

/** Where to probe. */
export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
}

const ERROR_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
};

/** A short text for a socket or TLS error (TLS errors keep Node's message: it names the problem). */
export function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code !== undefined && ERROR_TEXT[code] !== undefined) return ERROR_TEXT[code];
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code !== undefined && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO/.test(code))) return `TLS error: ${message}`;
  return message;
}

/** Output of a probe cut short because its machine's checks were stopped. */
export const ABORTED_OUTPUT = 'check stopped';

/** Runs one probe of `spec` against `target`; `signal` cuts it short (checks of a machine that stopped). */
export function probe(spec: CheckSpec, target: ProbeTarget, signal?: AbortSignal): Promise<ProbeOutcome> {
  if (signal?.aborted) return Promise.resolve({ ok: false, output: ABORTED_OUTPUT });
  return spec.type === 'http' ? probeHttp(spec, target, signal) : probeTcp(spec, target, signal);
}

function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => {};
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

function probeTcp(spec: CheckSpec, target: ProbeTarget, signal: AbortSignal | undefined): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => done({ ok: false, output: `timeout after ${msText(spec.timeoutMs)}` }), spec.timeoutMs);
    const unlisten = onAbort(signal, () => done({ ok: false, output: ABORTED_OUTPUT }));
    let finished = false;
    function done(outcome: ProbeOutcome): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unlisten();
      socket.destroy();
      resolve(outcome);
    }
    socket.once('connect', () => done({ ok: true, output: `TCP connect to port ${spec.port} succeeded` }));
    socket.on('error', (err) => done({ ok: false, output: errorText(err) }));
  });
}

function headersOf(spec: CheckSpec, target: ProbeTarget): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, values] of spec.http?.headers ?? []) headers[name] = values.length === 1 ? values[0] : [...values];
  const hasHost = Object.keys(headers).some((k) => k.toLowerCase() === 'host');
  if (!hasHost) {
    const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
    headers.host = `${host}:${target.port}`;
  }
  // One request per connection: checks are rare, and a kept-alive socket would hide a server
  // that no longer accepts connections.
  headers.connection = 'close';
  return headers;
}

function probeHttp(spec: CheckSpec, target: ProbeTarget, signal: AbortSignal | undefined): Promise<ProbeOutcome> {
  const http = spec.http!;
  const what = `${http.method} ${http.path}`;
  return new Promise((resolve) => {
    const https = http.protocol === 'https';
    const common = { host: target.host, port: target.port, method: http.method, path: http.path, headers: headersOf(spec, target), agent: false as const };
    const req = https
      ? httpsRequest({
          ...common,
          rejectUnauthorized: !http.tlsSkipVerify,
          // Node refuses an IP as SNI; without tls_server_name an IP target sends none.
          ...(http.tlsServerName !== undefined ? { servername: http.tlsServerName } : {}),
        })
      : httpRequest(common);
    const timer = setTimeout(() => done({ ok: false, output: `timeout after ${msText(spec.timeoutMs)}` }), spec.timeoutMs);
    const unlisten = onAbort(signal, () => done({ ok: false, output: ABORTED_OUTPUT }));
    let finished = false;
    function done(outcome: ProbeOutcome, res?: IncomingMessage): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unlisten();
      res?.destroy();
      req.destroy();
      resolve(outcome);
    }
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      done({ ok: httpStatusPasses(status), output: `HTTP ${status} from ${what}` }, res);
    });
    req.on('error', (err) => done({ ok: false, output: errorText(err) }));
    req.end();
  });
}
