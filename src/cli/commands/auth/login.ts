/**
 * `hangar auth login --token <token> [--api-url <url>]`: checks the token against the API
 * (`GET /api/v1/whoami`) and saves it, with the API URL, in the CLI config file
 * (`$HANGAR_CONFIG` or ~/.hangar/config.json, mode 0600).
 */
import type { CommandContext } from '../../registry.js';
import { ApiClient } from '../../../client/api.js';
import { resolveClientSettings, writeClientConfig } from '../../../client/config.js';
import { HangarError } from '../../../core/errors.js';

interface Options {
  token?: string;
  apiUrl?: string;
}

export async function run({ options, out }: CommandContext<Options>): Promise<void> {
  if (!options.token) {
    throw new HangarError('HANGAR_ERR_USAGE', 'auth login needs a token: pass --token <token>', {
      details: ['(a new `hangar server` writes its admin token to <data-dir>/admin-token)'],
    });
  }
  const settings = resolveClientSettings({ accessToken: options.token });
  const apiUrl = (options.apiUrl ?? settings.apiUrl).replace(/\/+$/, '');
  const client = new ApiClient({ apiUrl, token: options.token });
  const who = await client.whoami();
  writeClientConfig(settings.configPath, { api_url: apiUrl, token: options.token });
  if (out.json) {
    out.printJson({ ...who, api_url: apiUrl, config_path: settings.configPath });
    return;
  }
  out.line(`Logged in to ${apiUrl} as ${who.token_name} (${who.role} token of org ${who.org})`);
  out.line(`Token saved to ${settings.configPath}`);
}
