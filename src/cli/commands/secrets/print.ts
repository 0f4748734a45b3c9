/** The summary printed after secrets change (names and version only, never values). */
import type { Output } from '../../output.js';

export function printSecretsSet(out: Output, app: string, names: string[], version: number | undefined): void {
  if (out.json) {
    out.printJson({ app, names, version: version ?? null });
    return;
  }
  out.line(`Set ${names.length} secret${names.length === 1 ? '' : 's'} on app ${app}: ${names.join(', ')}${version === undefined ? '' : ` (version ${version})`}`);
  out.err('Machines see the new values when they are next updated or restarted (`hangar machine update <id>`).');
}
