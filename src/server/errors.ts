/**
 * Coded errors of `hangar server` (registered in `src/core/errors.ts`).
 */
import { HangarError } from '../core/errors.js';

export type ServerErrorCode =
  /** Another `hangar server` holds the data dir's lock. */
  | 'HANGAR_ERR_SERVER_LOCKED'
  /** A flag value the server cannot use (address, driver, region). */
  | 'HANGAR_ERR_SERVER_USAGE'
  /** The chosen runtime driver cannot run on this host. */
  | 'HANGAR_ERR_SERVER_DRIVER';

export class ServerError extends HangarError {
  declare readonly code: ServerErrorCode;
  constructor(code: ServerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'ServerError';
  }
}
