/** `hangar machine leases view <id> [--json]`: the lease held on a machine, if any. */
import type { CommandContext } from '../../../registry.js';
import { isClientError } from '../../../../client/errors.js';
import { connect, type TokenOptions } from '../../common/api.js';
import { resolveApp } from '../../common/app.js';
import { keyValues } from '../../common/format.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const id = String(ctx.args[0]);
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  let lease;
  try {
    lease = await client.getLease(app, id);
  } catch (err) {
    // A 404 whose text says "lease not found" means no lease (reference §1a "Leases"); a missing machine is still an error.
    if (!isClientError(err, 'HANGAR_ERR_API_NOT_FOUND') || !/lease not found/i.test(err.message)) throw err;
  }
  if (ctx.out.json) {
    ctx.out.printJson(lease?.data ?? null);
    return;
  }
  if (!lease) {
    ctx.out.line(`Machine ${id} has no lease`);
    return;
  }
  for (const l of keyValues([
    ['Nonce', lease.data.nonce],
    ['Owner', lease.data.owner],
    ['Description', lease.data.description],
    ['Expires', new Date(lease.data.expires_at * 1000).toISOString()],
  ]))
    ctx.out.line(l);
}
