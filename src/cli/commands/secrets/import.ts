/** `hangar secrets import < file`: sets the `NAME=VALUE` lines read from stdin in one version. */
import type { CommandContext } from '../../registry.js';
import { HangarError } from '../../../core/errors.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { parseSecretsText } from './parse.js';
import { printSecretsSet } from './print.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new HangarError('HANGAR_ERR_USAGE', 'secrets import reads NAME=VALUE lines from stdin: hangar secrets import < secrets.env');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const values = parseSecretsText(await readStdin());
  const names = Object.keys(values);
  if (names.length === 0) throw new HangarError('HANGAR_ERR_USAGE', 'no NAME=VALUE lines on stdin');
  const app = await resolveApp(ctx.globals);
  const res = await connect(ctx).setSecrets(app, values);
  printSecretsSet(ctx.out, app, names, res.version);
}
