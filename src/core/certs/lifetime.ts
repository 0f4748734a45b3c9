/**
 * Lifetimes of the local CA's certificates and when to renew them. Pure: callers pass `now`.
 *
 * Leaves live 90 days and are renewed once a third of that is left, the rhythm Let's Encrypt
 * uses, so the same renewal code serves ACME certificates later (ARCHITECTURE.md
 * "Certificates"). The root lives 10 years: users trust it once.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

export const LEAF_LIFETIME_DAYS = 90;
export const ROOT_LIFETIME_DAYS = 3650;
/** Certificates start an hour in the past so a client whose clock is a little behind accepts them. */
export const BACKDATE_MS = 60 * 60 * 1000;

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The validity of a certificate issued at `now` for `days`. */
export function validityFrom(now: Date, days: number): Validity {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

/**
 * Whether a certificate should be replaced at `now`: not yet valid, expired, or with less than a
 * third of its lifetime left.
 */
export function needsRenewal(v: Validity, now: Date): boolean {
  const start = v.notBefore.getTime();
  const end = v.notAfter.getTime();
  const t = now.getTime();
  if (t < start || t >= end) return true;
  return end - t < (end - start) / 3;
}
