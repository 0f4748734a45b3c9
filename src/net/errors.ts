/**
 * Errors of the host networking edge (6PN bridges, veths, nftables).
 *
 * Codes are registered in src/core/errors.ts. The `step` names the plan
 * step that failed ("bridge hgr-n1: add address fdaa:0:1:1::1/64"), so an operator can tell
 * which of the batched commands broke.
 */

import { HangarError } from '../core/errors.js';

export type NetErrorCode =
  /** A spec (network number, prefix, address, netns path) is malformed: a bug in the caller. */
  | 'HANGAR_ERR_NET_INVALID'
  /** `ip` or `nft` failed, or could not be started. */
  | 'HANGAR_ERR_NET_COMMAND'
  /** The machine's network namespace does not exist. */
  | 'HANGAR_ERR_NET_NETNS_MISSING'
  /** A link, netns or table with a Hangar name exists but Hangar cannot prove it made it. */
  | 'HANGAR_ERR_NET_NOT_OWNED';

/** An error of src/net, with a code and the plan step it happened in (when there is one). */
export class NetError extends HangarError {
  declare readonly code: NetErrorCode;
  readonly step: string | undefined;

  constructor(code: NetErrorCode, message: string, options: { step?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'NetError';
    this.step = options.step;
  }
}
