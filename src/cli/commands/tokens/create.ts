/**
 * `hangar tokens create deploy|readonly [--name N] [--json]`: a new org-scoped token with that
 * role (reference §1e `tokens create`). The token alone goes to stdout, so
 * `TOKEN=$(hangar tokens create deploy)` works; it is shown once and never again.
 */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';

interface Options extends TokenOptions {
  name?: string;
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const role = String(ctx.args[0] ?? '');
  if (role !== 'deploy' && role !== 'readonly') {
    throw new HangarError('HANGAR_ERR_USAGE', `unknown token type "${role}": use deploy or readonly`);
  }
  const created = await connect(ctx).createToken(role, ctx.options.name);
  if (ctx.out.json) {
    ctx.out.printJson(created);
    return;
  }
  ctx.out.line(created.token);
  ctx.out.err(`Created a ${created.role} token for org ${created.org}. Store it now: it cannot be shown again.`);
}
