/**
 * Following and bounding the per-machine log files of the process driver.
 *
 * The machine writes stdout/stderr straight into files opened with O_APPEND (no pipe to the
 * agent, so the machine survives the agent). The driver polls the files from one shared timer:
 * it hands new complete lines to followers and, when a file grows past its limit, keeps the
 * newest part in `<file>.1` and truncates the file (copy-truncate). Because the writer appends,
 * its next write lands at the new end of file; bytes written in the microseconds between the
 * last read and the truncation are lost, as with logrotate's copytruncate.
 */
import { closeSync, openSync, readSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { LogFollowOptions, LogLine, LogSubscription } from '../types.js';

type Stream = 'stdout' | 'stderr';
const STREAMS: readonly Stream[] = ['stdout', 'stderr'];
/** A line longer than this is delivered in pieces rather than buffered without bound. */
const MAX_LINE_BYTES = 64 * 1024;

interface Follower {
  readonly onLine: (line: LogLine) => void;
  readonly offset: Record<Stream, number>;
  readonly partial: Record<Stream, string>;
}

interface LogSet {
  readonly paths: Record<Stream, string>;
  readonly maxBytes: number;
  readonly followers: Set<Follower>;
}

/** Reads bytes [from, to) of a file; an empty buffer when it cannot. */
function readRange(path: string, from: number, to: number): Buffer {
  if (to <= from) return Buffer.alloc(0);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(to - from);
    const n = readSync(fd, buf, 0, buf.length, from);
    return buf.subarray(0, n);
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The path of the kept older part of a log file. */
export function rotatedPath(path: string): string {
  return `${path}.1`;
}

export class LogFiles {
  private readonly sets = new Map<string, LogSet>();

  /** Starts bounding (and allowing follows of) the log files of one task. */
  add(key: string, paths: Record<Stream, string>, maxBytes: number): void {
    if (!this.sets.has(key)) this.sets.set(key, { paths, maxBytes, followers: new Set() });
  }

  /** Stops watching a task's logs; its followers get what is left first. */
  remove(key: string): void {
    const set = this.sets.get(key);
    if (!set) return;
    this.pump(set);
    set.followers.clear();
    this.sets.delete(key);
  }

  get size(): number {
    return this.sets.size;
  }

  follow(key: string, opts: LogFollowOptions): LogSubscription {
    const set = this.sets.get(key);
    if (!set) return { close() {} };
    const startAtEnd = opts.from === 'end';
    const follower: Follower = {
      onLine: opts.onLine,
      offset: {
        stdout: startAtEnd ? sizeOf(set.paths.stdout) : 0,
        stderr: startAtEnd ? sizeOf(set.paths.stderr) : 0,
      },
      partial: { stdout: '', stderr: '' },
    };
    set.followers.add(follower);
    return { close: () => void set.followers.delete(follower) };
  }

  /** One polling round over every task: deliver new lines, then bound the files. */
  tick(): void {
    for (const set of this.sets.values()) this.pump(set);
  }

  /** Delivers what was written since the last round to the followers of one task, now. */
  flush(key: string): void {
    const set = this.sets.get(key);
    if (set) this.pump(set);
  }

  private pump(set: LogSet): void {
    for (const stream of STREAMS) {
      const path = set.paths[stream];
      const size = sizeOf(path);
      const lines: [Follower, string[]][] = [];
      for (const f of set.followers) {
        // A file smaller than what we read means someone else truncated it: start over.
        if (size < f.offset[stream]) f.offset[stream] = 0;
        const chunk = readRange(path, f.offset[stream], size);
        f.offset[stream] += chunk.length;
        lines.push([f, splitLines(f, stream, chunk.toString('utf8'))]);
      }
      if (size > set.maxBytes) {
        keepNewest(path, set.maxBytes);
        for (const f of set.followers) f.offset[stream] = 0;
      }
      const ts = new Date().toISOString();
      for (const [f, ls] of lines) for (const line of ls) f.onLine({ stream, line, ts });
    }
  }
}

function splitLines(f: Follower, stream: Stream, text: string): string[] {
  if (text === '') return [];
  const parts = (f.partial[stream] + text).split('\n');
  let rest = parts.pop() ?? '';
  const out = parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (rest.length > MAX_LINE_BYTES) {
    out.push(rest.slice(0, MAX_LINE_BYTES));
    rest = rest.slice(MAX_LINE_BYTES);
  }
  f.partial[stream] = rest;
  return out;
}

/** Copies the newest whole lines (at most maxBytes) to `<path>.1`, then truncates `path`. */
function keepNewest(path: string, maxBytes: number): void {
  const size = sizeOf(path);
  let tail = readRange(path, Math.max(0, size - maxBytes), size);
  if (size > maxBytes) {
    const nl = tail.indexOf(0x0a);
    tail = nl >= 0 ? tail.subarray(nl + 1) : tail;
  }
  try {
    writeFileSync(rotatedPath(path), tail);
    truncateSync(path, 0);
  } catch {
    // The file went away (task destroyed meanwhile): nothing to bound.
  }
}
