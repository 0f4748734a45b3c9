/**
 * `hangar config validate --strict`: the keys of a fly.toml that flyctl does not know, found as
 * flyctl's `--strict` finds them (reference §1b last bullets, `strict_validate.go`): after the
 * same back-compat patches, every key is compared with flyctl's key inventory; an unknown
 * top-level key is listed as `<section>`, a nested one as `<path>.<key>` with array indexes and
 * map keys. Hangar-only forms that Fly would not read are listed too, with a note.
 */
import { APP_KEYS, COMPUTE_KEYS, type KeyNode, type TableNode } from './keys.js';
import { parseFlyToml } from './parse.js';
import { applyPatches } from './patches.js';
import { formatPath, hasKey, isMap, type PathSegment, type RawMap } from './raw.js';
import type { StrictFinding } from './types.js';

export const VM_OVERRIDE_NOTE = 'Fly ignores [[vm.override]]; Hangar applies it';
export const HTTP_CHECKS_TABLE_NOTE = 'Fly expects [[http_service.checks]]; Hangar reads a single [http_service.checks] table as one check';

/**
 * Every unknown key of the file, sorted by path. A file that is not valid TOML has none (its
 * syntax error is reported by normalizeAppConfig).
 */
export function strictFindings(text: string): StrictFinding[] {
  try {
    const parsed = parseFlyToml(text);
    if (!parsed.ok) return [];
    const patched = applyPatches(parsed.raw, []);
    const findings: StrictFinding[] = [];
    walkTable(patched, APP_KEYS, [], findings);
    return findings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  } catch {
    return [];
  }
}

function walk(value: unknown, node: KeyNode, path: PathSegment[], findings: StrictFinding[]): void {
  if (node === 'leaf') return;
  switch (node.kind) {
    case 'table':
      if (isMap(value)) walkTable(value, node, path, findings);
      return;
    case 'list':
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          if (isMap(item)) walkTable(item, node.item, [...path, i], findings);
        });
      } else if (isMap(value)) {
        if (formatPath(path) === 'http_service.checks') findings.push({ path: 'http_service.checks', note: HTTP_CHECKS_TABLE_NOTE });
        walkTable(value, node.item, path, findings);
      }
      return;
    case 'map':
      if (isMap(value)) {
        for (const [key, item] of Object.entries(value)) {
          if (isMap(item)) walkTable(item, node.item, [...path, key], findings);
        }
      }
      return;
  }
}

function walkTable(map: RawMap, node: TableNode, path: PathSegment[], findings: StrictFinding[]): void {
  for (const [key, value] of Object.entries(map)) {
    const childPath = [...path, key];
    if (node === COMPUTE_KEYS && key === 'override' && path[0] === 'vm') {
      findings.push({ path: formatPath(childPath), note: VM_OVERRIDE_NOTE });
      walk(value, { kind: 'list', item: COMPUTE_KEYS }, childPath, findings);
      continue;
    }
    if (!hasKey(node.keys, key)) {
      findings.push({ path: formatPath(childPath) });
      continue;
    }
    walk(value, node.keys[key] as KeyNode, childPath, findings);
  }
}
