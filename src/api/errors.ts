/**
 * Every error leaves the API as Fly's body `{error, status?}` (reference §1a "Error shape"),
 * including Fastify's own (bad JSON, wrong content type, body too large, unknown route).
 * Unexpected errors are logged and answered 500 without their details.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { isHangarError } from '../core/errors.js';
import { badRequest } from '../control/errors.js';
import { isStoreConflict } from '../store/types.js';

export interface ErrorBody {
  error: string;
  status?: string;
}

function body(message: string, status?: string): ErrorBody {
  return status === undefined ? { error: message } : { error: message, status };
}

/** Messages for Fastify's client errors, in words a user of the API understands. */
function fastifyMessage(err: FastifyError): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported content type: send JSON with Content-Type: application/json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'request body is too large';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'request body size does not match Content-Length';
    default:
      return err.message;
  }
}

/** Rejects `__proto__` keys so a body can never set an object's prototype when it is copied. */
function reviver(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError(`forbidden key "${key}"`);
  return value;
}

/** JSON bodies: an empty body is accepted (as no body), invalid JSON is a 400 with the reason. */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  const parse = (_req: unknown, text: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const s = typeof text === 'string' ? text : text.toString('utf8');
    if (s.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(s, reviver));
    } catch (err) {
      done(badRequest(`invalid JSON body: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse);
  app.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/, { parseAs: 'string' }, parse);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (isStoreConflict(err)) {
      return reply.code(409).send(body('the resource was changed by another request at the same time; try again'));
    }
    // Every coded error was raised on purpose with a message meant for the caller; the
    // registry gives its HTTP status and Fly `status`. System faults are logged as well.
    if (isHangarError(err)) {
      if (!err.spec.user) req.log.error({ err }, 'request failed');
      return reply.code(err.spec.http).send(body(err.message, err.spec.flyStatus));
    }
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return reply.code(status).send(body(fastifyMessage(err as FastifyError)));
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(body('internal error; see the server log'));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    return reply.code(404).send(body(`not found: ${req.method} ${path.slice(0, 200)}`));
  });
}
