/** `hangar secrets list [--json]`: names and digests, never values. */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const app = await resolveApp(ctx.globals);
  const secrets = await connect(ctx).listSecrets(app);
  if (ctx.out.json) {
    ctx.out.printJson(secrets);
    return;
  }
  if (secrets.length === 0) {
    ctx.out.line(`No secrets in app ${app}: set one with \`hangar secrets set NAME=VALUE -a ${app}\`.`);
    return;
  }
  ctx.out.table(['NAME', 'DIGEST', 'UPDATED AT'], secrets.map((s) => [s.name, s.digest, s.updated_at ?? s.created_at ?? '']));
}
