/**
 * `--region-distances <file>`: the operator's closeness table for balancing (closest region
 * first) and `top<N>.nearest.of.<app>.internal`: JSON `{ "<region>": { "<region>": <ms> } }`,
 * e.g. measured RTTs between hosts. Pairs it lacks fall back to the estimate from Fly's region
 * cities (core/fly/regions.ts), so a partial table is fine.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DistanceTable } from '../core/proxy/region.js';

const REGION = /^[a-z0-9-]{2,16}$/;
const schema = z.record(z.string().regex(REGION, 'a region code such as ams'), z.record(z.string().regex(REGION, 'a region code such as fra'), z.number().finite().nonnegative()));

/** Reads and checks the table; throws an Error naming the file and the bad entry. */
export function loadRegionDistances(file: string): DistanceTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --region-distances file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`--region-distances file ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new Error(`--region-distances file ${file}: ${where}: ${issue.message}; expected {"ams": {"fra": 8, ...}, ...} with distances in ms`);
  }
  return parsed.data;
}
