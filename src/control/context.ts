/**
 * What every control plane service works with: the store (desired and observed state), the bus
 * (requests to host agents, log streams) and the data dir (volumes, secret key, snapshots).
 * Passed explicitly, never read from globals (STYLE.md: no singletons).
 */
import type { Bus } from '../bus/types.js';
import type { TokenRole } from '../core/model.js';
import type { StateStore } from '../store/types.js';

export interface ControlContext {
  readonly store: StateStore;
  readonly bus: Bus;
  readonly dataDir: string;
  /** Clock in ms since the epoch (tests pass a fake one). */
  readonly now: () => number;
}

/** Who is calling: the org, role and name of the token a request carried. */
export interface AuthContext {
  readonly org: string;
  readonly role: TokenRole;
  readonly token_name: string;
}

/** ISO timestamp of `ms` without sub-second noise beyond milliseconds (Fly uses RFC 3339). */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
