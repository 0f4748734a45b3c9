/**
 * The CLI's one top-level error handler (STYLE.md habit 5): a coded error prints its message,
 * its details and its suggestion; anything else is a bug and says so. `--debug` adds the cause
 * chain with stacks.
 */
import { HangarError, isHangarError } from '../core/errors.js';
import type { Io } from './output.js';

export function describeCauses(err: unknown): string[] {
  const lines: string[] = [];
  let cur: unknown = err;
  let depth = 0;
  while (cur !== undefined && cur !== null && depth < 10) {
    if (cur instanceof Error) {
      lines.push(`${depth === 0 ? '' : 'caused by: '}${cur.stack ?? `${cur.name}: ${cur.message}`}`);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      lines.push(`${depth === 0 ? '' : 'caused by: '}${String(cur)}`);
      break;
    }
    depth += 1;
  }
  return lines;
}

/**
 * Prints `err` for a person and returns the exit code: 1 when the command failed for a known
 * reason (any coded error, the user's or the system's), 2 for a bug (an uncoded error).
 */
export function handleError(err: unknown, opts: { debug: boolean; io: Io }): number {
  const { io } = opts;
  const coded: HangarError = isHangarError(err)
    ? err
    : new HangarError('HANGAR_ERR_INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  io.stderr(`Error: ${coded.message}\n`);
  for (const d of coded.details) io.stderr(`${d}\n`);
  io.stderr(`\n${coded.suggestion}\n`);
  if (opts.debug) {
    io.stderr(`\n[${coded.code}]\n`);
    for (const l of describeCauses(coded.cause ?? coded)) io.stderr(`${l}\n`);
  }
  return coded.code === 'HANGAR_ERR_INTERNAL' ? 2 : 1;
}
