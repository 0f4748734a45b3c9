/** `hangar image import <archive> [--tag ref] [--no-unpack]`: load an OCI-layout or `docker save` tar. */
import { resolve } from 'node:path';
import { resolveDataDir } from '../../../env.js';
import { ImageStore } from '../../../images/store.js';
import type { CommandContext } from '../../registry.js';
import { type DataDirOptions, displayName, formatBytes } from './list.js';

interface Options extends DataDirOptions {
  tag?: string;
  /** commander's `--no-unpack` sets `unpack: false`. */
  unpack?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const archive = resolve(String(ctx.args[0]));
  const store = await ImageStore.open({
    dataDir: resolveDataDir(ctx.options.dataDir),
    onEvent: (e) => {
      if (e.type === 'unpack') ctx.out.err(`unpacking ${e.ref}`);
    },
  });
  const records = await store.import(archive, ctx.options.tag === undefined ? {} : { ref: ctx.options.tag });
  if (ctx.options.unpack !== false) for (const r of records) await store.rootfs(r);
  if (ctx.out.json) {
    ctx.out.printJson(records);
    return;
  }
  for (const r of records) ctx.out.line(`Imported ${displayName(r)} ${r.digest} (${r.platform}, ${formatBytes(r.size)})`);
}
