/** `hangar auth whoami [--json]`: the org, role and name of the token in use. */
import type { CommandContext } from '../../registry.js';
import { connect, settingsFor, type TokenOptions } from '../common/api.js';
import { keyValues } from '../common/format.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const client = connect(ctx);
  const who = await client.whoami();
  const settings = settingsFor(ctx);
  if (ctx.out.json) {
    ctx.out.printJson({ ...who, api_url: client.apiUrl, token_source: settings.tokenSource });
    return;
  }
  for (const l of keyValues([
    ['Org', who.org],
    ['Role', who.role],
    ['Token', who.token_name],
    ['API', client.apiUrl],
    ['Token from', settings.tokenSource === 'config' ? settings.configPath : settings.tokenSource === 'env' ? 'HANGAR_API_TOKEN' : '--access-token'],
  ]))
    ctx.out.line(l);
}
