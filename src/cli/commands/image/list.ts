/** `hangar image list [--data-dir dir] [--json]`: the images in this host's image store. */
import { familiarReference, parseReference } from '../../../core/images/reference.js';
import { resolveDataDir } from '../../../env.js';
import { type ImageRecord, ImageStore } from '../../../images/store.js';
import type { CommandContext } from '../../registry.js';

export interface DataDirOptions {
  dataDir?: string;
}

/** `1.9 MB`, powers of 1000 as `docker images` prints them. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `busybox:1.36` for Docker Hub images, the full reference otherwise; `<none>` when unnamed. */
export function displayName(r: Pick<ImageRecord, 'ref'>): string {
  return r.ref === null ? '<none>' : familiarReference(parseReference(r.ref));
}

export async function run(ctx: CommandContext<DataDirOptions>): Promise<void> {
  const store = await ImageStore.open({ dataDir: resolveDataDir(ctx.options.dataDir) });
  const records = await store.list();
  const rows = await Promise.all(records.map(async (r) => ({ ...r, unpacked: await store.isUnpacked(r.digest) })));
  if (ctx.out.json) {
    ctx.out.printJson(rows);
    return;
  }
  if (rows.length === 0) {
    ctx.out.line('No images yet: pull one with `hangar image pull <ref>` or import one with `hangar image import <archive>`.');
    return;
  }
  ctx.out.table(
    ['IMAGE', 'DIGEST', 'PLATFORM', 'SIZE', 'UNPACKED', 'STORED'],
    rows.map((r) => [displayName(r), r.digest.slice(0, 19), r.platform, formatBytes(r.size), r.unpacked ? 'yes' : 'no', r.storedAt]),
  );
}
