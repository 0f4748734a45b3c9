/**
 * Coded errors of the host agent (registered in `src/core/errors.ts`).
 */
import { HangarError } from '../core/errors.js';

export type AgentErrorCode =
  /** The machine's image cannot be run on this host. */
  | 'HANGAR_ERR_AGENT_IMAGE'
  /** A secret of the app cannot be decrypted with this host's key. */
  | 'HANGAR_ERR_AGENT_SECRET'
  /** A volume the machine mounts does not exist. */
  | 'HANGAR_ERR_AGENT_VOLUME'
  /** exec/ps/signal for a machine this agent does not run (not here, or not started). */
  | 'HANGAR_ERR_AGENT_NOT_RUNNING'
  /** A malformed request to the agent over the bus. */
  | 'HANGAR_ERR_AGENT_REQUEST';

export class AgentError extends HangarError {
  declare readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'AgentError';
  }
}
