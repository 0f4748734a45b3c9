import { readFileSync } from 'node:fs';
import type { CommandContext } from '../registry.js';

/** The package version, read from package.json beside dist/ (works from a checkout and from npm). */
export function hangarVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function run({ out }: CommandContext): Promise<void> {
  const version = hangarVersion();
  if (out.json) out.printJson({ version, node: process.versions.node, platform: `${process.platform}/${process.arch}` });
  else out.line(`hangar v${version} ${process.platform}/${process.arch} node/${process.versions.node}`);
}
