/**
 * The client's one HTTP edge, on Node 20's global `fetch` (undici is not imported: it costs
 * ~85 ms of start-up). Turns every failure into a `ClientError`: a refused connection, a
 * non-2xx answer with Fly's `{error, status?}` body, or a body that is not JSON.
 */
import { ClientError, codeForStatus } from './errors.js';

export type QueryValue = string | number | boolean | undefined | readonly string[];

/** What a 404 was about, so the error names it and suggests the right listing. */
export interface NotFoundContext {
  app?: string;
  machine?: string;
  volume?: string;
  secret?: string;
}

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  headers?: Record<string, string>;
  notFound?: NotFoundContext;
  signal?: AbortSignal;
}

export interface TransportOptions {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:4280`. */
  apiUrl: string;
  token: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

interface ErrorBody {
  error?: unknown;
  message?: unknown;
  status?: unknown;
}

export class HttpTransport {
  readonly apiUrl: string;
  private readonly token: string;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: TransportOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    // A token pasted with its scheme still works (fly-go strips a leading `Bearer `/`FlyV1 ` too).
    this.token = opts.token.replace(/^(Bearer|FlyV1)\s+/i, '').trim();
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** The URL for `path` (which starts with `/`) and `query`; repeated values become repeated keys. */
  url(path: string, query: Record<string, QueryValue> = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v as readonly string[]) params.append(k, item);
      else params.append(k, String(v));
    }
    const qs = params.toString();
    return `${this.apiUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  /** Sends one request and returns the parsed JSON body (undefined for an empty body). */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query);
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json', ...opts.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, ...(body === undefined ? {} : { body }), ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new ClientError('HANGAR_ERR_API_UNREACHABLE', `cannot reach the Hangar API at ${this.apiUrl}: ${networkReason(err)}`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) throw errorFromResponse(method, path, res.status, text, opts.notFound);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ClientError('HANGAR_ERR_API_RESPONSE', `${method} ${path} answered ${res.status} with a body that is not JSON: ${clip(text)}`, {
        cause: err,
        httpStatus: res.status,
      });
    }
  }
}

/** The error for a non-2xx answer: the API's own message (`message` over `error`, as fly-go). */
export function errorFromResponse(method: string, path: string, status: number, text: string, notFound?: NotFoundContext): ClientError {
  let body: ErrorBody | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) body = parsed as ErrorBody;
  } catch {
    body = undefined;
  }
  const apiMessage =
    typeof body?.message === 'string' && body.message !== ''
      ? body.message
      : typeof body?.error === 'string' && body.error !== ''
        ? body.error
        : `${method} ${path} returned ${status}${text ? `: ${clip(text)}` : ''}`;
  const flyStatus = typeof body?.status === 'string' ? body.status : undefined;
  const code = codeForStatus(status);
  const suggestion = code === 'HANGAR_ERR_API_NOT_FOUND' ? notFoundSuggestion(apiMessage, notFound) : undefined;
  return new ClientError(code, apiMessage, {
    httpStatus: status,
    ...(flyStatus === undefined ? {} : { flyStatus }),
    ...(suggestion === undefined ? {} : { suggestion }),
  });
}

/**
 * A suggestion that names what was missing. The API's message says which resource it could not
 * find; when it does not say, the innermost resource of the request is assumed.
 */
function notFoundSuggestion(message: string, ctx: NotFoundContext | undefined): string | undefined {
  if (!ctx) return undefined;
  const about = /\bapp\b|application/i.test(message)
    ? 'app'
    : /machine/i.test(message)
      ? 'machine'
      : /volume/i.test(message)
        ? 'volume'
        : /secret/i.test(message)
          ? 'secret'
          : ctx.secret
            ? 'secret'
            : ctx.volume
              ? 'volume'
              : ctx.machine
                ? 'machine'
                : ctx.app
                  ? 'app'
                  : undefined;
  const app = ctx.app ?? '<app>';
  switch (about) {
    case 'app':
      return `No app named "${app}" is visible to this token: \`hangar apps list\` shows the apps, \`hangar apps create ${app}\` creates it.`;
    case 'machine':
      return `\`hangar machine list -a ${app}\` shows the machines of app "${app}".`;
    case 'volume':
      return `\`hangar volumes list -a ${app}\` shows the volumes of app "${app}".`;
    case 'secret':
      return `\`hangar secrets list -a ${app}\` shows the secrets of app "${app}".`;
    default:
      return undefined;
  }
}

function networkReason(err: unknown): string {
  // fetch wraps the socket error: "fetch failed" with cause { code: 'ECONNREFUSED', ... }.
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code === 'ECONNREFUSED' ? 'connection refused' : code;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
