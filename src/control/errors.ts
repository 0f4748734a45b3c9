/**
 * Errors of the control plane services, answered by the API as Fly's error body
 * `{error, status?}` (reference §1a "Error shape"). Their codes are in `src/core/errors.ts`.
 */
import { HangarError, type ErrorCode } from '../core/errors.js';

export type ApiErrorCode = Extract<
  ErrorCode,
  | 'HANGAR_ERR_API_BAD_REQUEST'
  | 'HANGAR_ERR_API_UNAUTHORIZED'
  | 'HANGAR_ERR_API_FORBIDDEN'
  | 'HANGAR_ERR_API_NOT_FOUND'
  | 'HANGAR_ERR_API_WAIT_TIMEOUT'
  | 'HANGAR_ERR_API_LEASE_CONFLICT'
  | 'HANGAR_ERR_API_PRECONDITION'
  | 'HANGAR_ERR_API_NO_CAPACITY'
  | 'HANGAR_ERR_API_NAME_TAKEN'
  | 'HANGAR_ERR_API_VALIDATION'
  | 'HANGAR_ERR_API_AGENT_UNAVAILABLE'
>;

/** An error a service raises on purpose; the API answers it with its code's HTTP status and Fly `status`. */
export class ApiError extends HangarError {
  declare readonly code: ApiErrorCode;

  constructor(code: ApiErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'ApiError';
  }

  get http(): number {
    return this.spec.http;
  }

  get flyStatus(): string | undefined {
    return this.spec.flyStatus;
  }
}

export const badRequest = (message: string): ApiError => new ApiError('HANGAR_ERR_API_BAD_REQUEST', message);
export const notFound = (message: string): ApiError => new ApiError('HANGAR_ERR_API_NOT_FOUND', message);
export const forbidden = (message: string): ApiError => new ApiError('HANGAR_ERR_API_FORBIDDEN', message);
export const precondition = (message: string): ApiError => new ApiError('HANGAR_ERR_API_PRECONDITION', message);

/** Maps the `{ok:false, http, message}` of `transition()` (core/machine/state.ts) to an ApiError. */
export function transitionError(http: number, message: string): ApiError {
  if (http === 404) return notFound(message);
  if (http === 400) return badRequest(message);
  return precondition(message);
}
