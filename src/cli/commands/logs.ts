/**
 * `hangar logs [-a app] [-i/--machine id] [-r/--region r] [--no-tail] [--json]`: the app's logs,
 * polled from `GET /api/v1/apps/{app}/logs` in flyctl's shape (reference §1a "What flyctl needs
 * beyond flaps"): each page's `meta.next_token` asks for what came after it. Without --no-tail it
 * follows, polling every second, until interrupted. With --json each entry is one JSON line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandContext } from '../registry.js';
import type { LogEntry } from '../../client/types.js';
import { connect, type TokenOptions } from './common/api.js';
import { resolveApp } from './common/app.js';

interface Options extends TokenOptions {
  machine?: string;
  region?: string;
  /** false with --no-tail */
  tail?: boolean;
}

const POLL_MS = 1000;
/** --no-tail drains what is buffered, page by page, up to this many pages. */
const MAX_PAGES = 100;

/** flyctl's line format: `<timestamp> app[<machine>] <region> [<level>] <message>`. */
export function formatLogLine(e: LogEntry): string {
  const a = e.attributes;
  return `${a.timestamp} app[${a.instance}] ${a.region} [${a.level}] ${a.message}`;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  const filter = { ...(ctx.options.machine ? { instance: ctx.options.machine } : {}), ...(ctx.options.region ? { region: ctx.options.region } : {}) };
  const follow = ctx.options.tail !== false;
  let nextToken: string | undefined;
  for (let page = 0; follow || page < MAX_PAGES; page++) {
    const res = await client.getLogs(app, { ...filter, ...(nextToken ? { nextToken } : {}) });
    for (const e of res.data ?? []) {
      if (ctx.out.json) ctx.out.io.stdout(`${JSON.stringify(e)}\n`);
      else ctx.out.line(formatLogLine(e));
    }
    const advanced = Boolean(res.meta?.next_token) && res.meta.next_token !== nextToken;
    if (res.meta?.next_token) nextToken = res.meta.next_token;
    if (!follow && ((res.data ?? []).length === 0 || !advanced)) return;
    if (follow) await sleep(POLL_MS);
  }
}
