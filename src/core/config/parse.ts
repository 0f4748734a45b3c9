/**
 * fly.toml text → raw value tree. Syntax errors become one `toml-syntax` diagnostic worded as
 * flyctl words them (`failed loading app config from <path>: row <r> column <c>: ...`,
 * reference §1b "Back-compat patches" last sentence, §5 "duplicate key").
 */
import { parse, TomlError } from 'smol-toml';
import { hasKey, isMap, setKey, type RawMap } from './raw.js';
import type { Diagnostic } from './types.js';

export type ParseOutcome =
  | { ok: true; raw: RawMap; diagnostics: Diagnostic[] }
  | { ok: false; diagnostic: Diagnostic };

const REDEFINE = 'trying to redefine an already defined';

/**
 * Parses fly.toml. Never throws: any failure of the parser is reported as a diagnostic.
 * `path` is the file name used in the message (default `fly.toml`).
 */
export function parseFlyToml(text: string, path = 'fly.toml'): ParseOutcome {
  const source = typeof text === 'string' ? text : String(text ?? '');
  let parsed: unknown;
  try {
    // 'asNeeded': an integer beyond 2^53 is still valid TOML (Go reads int64); keep it as a
    // bigint so decoding can say "out of range" for the one key instead of failing the file.
    parsed = parse(source, { integersAsBigInt: 'asNeeded', maxDepth: 200 });
  } catch (err) {
    return { ok: false, diagnostic: syntaxDiagnostic(err, source, path) };
  }
  const diagnostics: Diagnostic[] = [];
  const raw = toPlain(parsed, diagnostics);
  return { ok: true, raw: isMap(raw) ? raw : {}, diagnostics };
}

function syntaxDiagnostic(err: unknown, source: string, path: string): Diagnostic {
  if (err instanceof TomlError) {
    const line = err.line;
    const column = err.column;
    let what = err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
    if (what.startsWith(REDEFINE)) {
      const key = duplicateKeyAt(source, line, column);
      if (key) what = `key ${JSON.stringify(key)} is already defined`;
    }
    return {
      severity: 'error',
      code: 'toml-syntax',
      message: `failed loading app config from ${path}: row ${line} column ${column}: ${what}`,
      line,
      column,
    };
  }
  const what = err instanceof Error ? err.message : String(err);
  return { severity: 'error', code: 'toml-syntax', message: `failed loading app config from ${path}: ${what}` };
}

/**
 * The key a redefinition error points at, read from the source line: a `[table]`/`[[array]]`
 * header names the table; otherwise the key before `=` is prefixed with the table it sits in.
 */
function duplicateKeyAt(source: string, line: number, column: number): string | undefined {
  const lines = source.split(/\r?\n/, line);
  const text = lines[line - 1];
  if (text === undefined) return undefined;
  const header = headerName(text);
  if (header !== undefined) return header;
  const rest = text.slice(Math.max(0, column - 1));
  const eq = rest.indexOf('=');
  const key = (eq >= 0 ? rest.slice(0, eq) : rest).trim();
  if (key === '') return undefined;
  for (let i = line - 2; i >= 0; i--) {
    const table = headerName(lines[i] ?? '');
    if (table !== undefined) return `${table}.${key}`;
  }
  return key;
}

function headerName(text: string): string | undefined {
  const m = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?/.exec(text);
  return m ? m[1] : undefined;
}

/** Deeper values are dropped: nothing in fly.toml nests this far, and JSON output must not overflow. */
export const MAX_NESTING = 64;

/**
 * Copies smol-toml's null-prototype tables into plain objects (what the decoders and tests
 * expect), iteratively so a deeply nested file cannot overflow the stack. A `__proto__` key is
 * dropped with a warning (it cannot be an own key of a JavaScript object), and so is anything
 * nested deeper than MAX_NESTING, with an error.
 */
function toPlain(root: unknown, diagnostics: Diagnostic[]): unknown {
  const wrap = (value: unknown): unknown => (Array.isArray(value) ? [] : isMap(value) ? {} : value);
  const out = wrap(root);
  const stack: { from: unknown; to: unknown; path: string; depth: number }[] = [{ from: root, to: out, path: '', depth: 0 }];
  let tooDeep = false;
  const descend = (item: unknown, copy: unknown, path: string, depth: number): boolean => {
    if (copy === item) return true;
    if (depth > MAX_NESTING) {
      if (!tooDeep) diagnostics.push({ severity: 'error', code: 'too-deep', path, message: `${path}: nested more than ${MAX_NESTING} levels deep` });
      tooDeep = true;
      return false;
    }
    stack.push({ from: item, to: copy, path, depth });
    return true;
  };
  while (stack.length > 0) {
    const { from, to, path, depth } = stack.pop() as { from: unknown; to: unknown; path: string; depth: number };
    if (Array.isArray(from)) {
      const target = to as unknown[];
      from.forEach((item, i) => {
        const copy = wrap(item);
        if (descend(item, copy, `${path}[${i}]`, depth + 1)) target.push(copy);
      });
    } else if (isMap(from)) {
      const target = to as RawMap;
      for (const key of Object.keys(from)) {
        const childPath = path === '' ? key : `${path}.${key}`;
        if (key === '__proto__') {
          diagnostics.push({ severity: 'warning', code: 'unsafe-key', path: childPath, message: `${childPath}: the key "__proto__" is ignored` });
          continue;
        }
        if (!hasKey(from, key)) continue;
        const item = from[key];
        const copy = wrap(item);
        if (descend(item, copy, childPath, depth + 1)) setKey(target, key, copy);
      }
    }
  }
  return out;
}
