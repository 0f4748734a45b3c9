/**
 * `hangar image pull <ref> [--platform os/arch] [--insecure-registry host:port] [--no-unpack]`:
 * fetch an image from its registry into this host's image store and unpack it.
 */
import { parsePlatform } from '../../../images/manifest.js';
import { resolveDataDir } from '../../../env.js';
import { ImageStore } from '../../../images/store.js';
import type { CommandContext } from '../../registry.js';
import { type DataDirOptions, displayName, formatBytes } from './list.js';

interface Options extends DataDirOptions {
  platform?: string;
  insecureRegistry?: string[];
  unpack?: boolean;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const ref = String(ctx.args[0]);
  const store = await ImageStore.open({
    dataDir: resolveDataDir(ctx.options.dataDir),
    ...(ctx.options.platform ? { platform: parsePlatform(ctx.options.platform) } : {}),
    insecure: ctx.options.insecureRegistry ?? [],
    onEvent: (e) => ctx.out.err(e.type === 'download' ? `downloading ${e.digest.slice(0, 19)} (${formatBytes(e.size)})` : `unpacking ${e.ref}`),
  });
  const record = await store.pull(ref);
  if (ctx.options.unpack !== false) await store.rootfs(record);
  if (ctx.out.json) {
    ctx.out.printJson(record);
    return;
  }
  ctx.out.line(`Pulled ${displayName(record)} ${record.digest} (${record.platform}, ${formatBytes(record.size)})`);
}
