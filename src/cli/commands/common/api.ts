/**
 * Connecting a CLI command to the API: settings from flag, env and config file
 * (`src/client/config.ts`), and a coded error that says how to log in when there is no token.
 */
import { ApiClient } from '../../../client/api.js';
import { resolveClientSettings, type ClientSettings } from '../../../client/config.js';
import { ClientError } from '../../../client/errors.js';
import type { CommandContext } from '../../registry.js';

/** Options every API command accepts (`-t/--access-token`, as flyctl's global flag). */
export interface TokenOptions {
  accessToken?: string;
}

/** The client settings for this invocation (token may be absent). */
export function settingsFor(ctx: CommandContext<TokenOptions>): ClientSettings {
  return resolveClientSettings({ accessToken: ctx.options.accessToken });
}

/** An `ApiClient` for this invocation; throws HANGAR_ERR_NO_TOKEN when no token is configured. */
export function connect(ctx: CommandContext<TokenOptions>): ApiClient {
  const settings = settingsFor(ctx);
  if (!settings.token) {
    throw new ClientError('HANGAR_ERR_NO_TOKEN', `no access token: not logged in to the Hangar API at ${settings.apiUrl}`, {
      details: [`(looked at -t/--access-token, HANGAR_API_TOKEN and ${settings.configPath})`],
    });
  }
  return new ApiClient({ apiUrl: settings.apiUrl, token: settings.token });
}
