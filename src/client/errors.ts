/**
 * The client's coded errors: an API error body `{error, status?}` (reference §1a "Error shape";
 * fly-go prefers `message` when present) or a failed connection becomes a `HangarError` that
 * carries the API's message and a suggestion the CLI prints under it.
 * The codes live in the one registry, `src/core/errors.ts`.
 */
import { HangarError, type ErrorCode } from '../core/errors.js';

export type ClientErrorCode = Extract<
  ErrorCode,
  | 'HANGAR_ERR_NO_TOKEN'
  | 'HANGAR_ERR_API_UNREACHABLE'
  | 'HANGAR_ERR_API_UNAUTHORIZED'
  | 'HANGAR_ERR_API_FORBIDDEN'
  | 'HANGAR_ERR_API_NOT_FOUND'
  | 'HANGAR_ERR_API_TIMEOUT'
  | 'HANGAR_ERR_API_CONFLICT'
  | 'HANGAR_ERR_API_INVALID'
  | 'HANGAR_ERR_API_SERVER'
  | 'HANGAR_ERR_API_RESPONSE'
>;

/** A coded error raised by the client, with the HTTP status and Fly `status` when there was a response. */
export class ClientError extends HangarError {
  declare readonly code: ClientErrorCode;
  /** HTTP status of the response, when there was one. */
  readonly httpStatus: number | undefined;
  /** Fly's machine-readable `status` from the error body (`name_taken`, ...), when present. */
  readonly flyStatus: string | undefined;

  constructor(
    code: ClientErrorCode,
    message: string,
    options: { cause?: unknown; details?: readonly string[]; suggestion?: string; httpStatus?: number; flyStatus?: string } = {},
  ) {
    super(code, message, options);
    this.name = 'ClientError';
    this.httpStatus = options.httpStatus;
    this.flyStatus = options.flyStatus;
  }

  get clientCode(): ClientErrorCode {
    return this.code;
  }
}

/** The client code for an HTTP status. */
export function codeForStatus(status: number): ClientErrorCode {
  if (status === 401) return 'HANGAR_ERR_API_UNAUTHORIZED';
  if (status === 403) return 'HANGAR_ERR_API_FORBIDDEN';
  if (status === 404) return 'HANGAR_ERR_API_NOT_FOUND';
  if (status === 408) return 'HANGAR_ERR_API_TIMEOUT';
  if (status === 409) return 'HANGAR_ERR_API_CONFLICT';
  if (status >= 400 && status < 500) return 'HANGAR_ERR_API_INVALID';
  return 'HANGAR_ERR_API_SERVER';
}

/** True when `err` is a client error with `code` (for callers that treat e.g. a 404 as "absent"). */
export function isClientError(err: unknown, code?: ClientErrorCode): err is ClientError {
  return err instanceof ClientError && (code === undefined || err.clientCode === code);
}
