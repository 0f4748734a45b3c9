/**
 * `hangar secrets set NAME=VALUE...`: sets secrets in one new version. Values are never echoed.
 * Machines get them when next updated or restarted (Fly docs: existing machines pick up
 * secrets only when updated).
 */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { parseSecretArgs } from './parse.js';
import { printSecretsSet } from './print.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const values = parseSecretArgs(ctx.args[0] as string[]);
  const app = await resolveApp(ctx.globals);
  const res = await connect(ctx).setSecrets(app, values);
  printSecretsSet(ctx.out, app, Object.keys(values), res.version);
}
