/**
 * `hangar machine leases clear <id>`: releases whatever lease is held on the machine, by reading
 * its nonce first, as `fly machine leases clear` does (reference §1a "Leases").
 */
import type { CommandContext } from '../../../registry.js';
import { isClientError } from '../../../../client/errors.js';
import { connect, type TokenOptions } from '../../common/api.js';
import { resolveApp } from '../../common/app.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const id = String(ctx.args[0]);
  const app = await resolveApp(ctx.globals);
  const client = connect(ctx);
  let nonce: string | undefined;
  try {
    nonce = (await client.getLease(app, id)).data.nonce;
  } catch (err) {
    if (!isClientError(err, 'HANGAR_ERR_API_NOT_FOUND') || !/lease not found/i.test(err.message)) throw err;
  }
  if (nonce) await client.releaseLease(app, id, nonce);
  if (ctx.out.json) ctx.out.printJson({ id, cleared: Boolean(nonce) });
  else ctx.out.line(nonce ? `Cleared the lease on machine ${id}` : `Machine ${id} has no lease`);
}
