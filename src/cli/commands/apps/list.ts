/** `hangar apps list [--org slug] [--json]`: the apps of the token's org. */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';

interface Options extends TokenOptions {
  org?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const apps = await connect(ctx).listApps(ctx.options.org);
  if (ctx.out.json) {
    ctx.out.printJson(apps);
    return;
  }
  if (apps.length === 0) {
    ctx.out.line('No apps yet: create one with `hangar apps create <name>`.');
    return;
  }
  ctx.out.table(
    ['NAME', 'ORG', 'STATUS', 'MACHINES'],
    apps.map((a) => [a.name, a.organization?.slug ?? '', a.status ?? '', a.machine_count ?? '']),
  );
}
