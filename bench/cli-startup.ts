/**
 * bench/cli-startup: wall time of `hangar version` against `node -e 0` in the same run.
 * Target (issue "Foundation"): median(hangar version) ≤ median(node -e 0) + 60 ms.
 *
 * Runs are interleaved (baseline, hangar, baseline, ...) so drift on a busy machine hits both
 * sides alike. The environment is passed through unchanged: NODE_EXTRA_CA_CERTS, when set,
 * slows every Node start, and the baseline pays it too.
 *
 * Usage: npm run bench:cli-startup [-- --runs 40]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const bin = fileURLToPath(new URL('../../bin/hangar.js', import.meta.url));

function time(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

function pct(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

const cases: { name: string; argv: string[]; samples: number[] }[] = [
  { name: 'node -e 0 (baseline)', argv: ['-e', '0'], samples: [] },
  { name: 'hangar version', argv: [bin, 'version'], samples: [] },
  { name: 'hangar --help', argv: [bin, '--help'], samples: [] },
];

// warm the page cache once
for (const c of cases) time(c.argv);
for (let i = 0; i < RUNS; i++) for (const c of cases) c.samples.push(time(c.argv));

const rows = cases.map((c) => {
  const s = [...c.samples].sort((a, b) => a - b);
  return { name: c.name, p50: pct(s, 50), p90: pct(s, 90), min: s[0] ?? NaN };
});
const base = rows[0]!.p50;
console.log(`cli-startup: ${RUNS} interleaved runs each, NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`);
console.log(['case'.padEnd(24), 'p50 ms', 'p90 ms', 'min ms', 'p50 - baseline'].join('\t'));
for (const r of rows) {
  console.log([r.name.padEnd(24), r.p50.toFixed(1), r.p90.toFixed(1), r.min.toFixed(1), `+${(r.p50 - base).toFixed(1)} ms`].join('\t'));
}
const overhead = rows[1]!.p50 - base;
console.log(`target: hangar version p50 ≤ baseline + 60 ms → ${overhead <= 60 ? 'met' : 'MISSED'} (+${overhead.toFixed(1)} ms)`);
