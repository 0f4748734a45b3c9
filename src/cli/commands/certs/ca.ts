/**
 * `hangar certs ca [--data-dir <dir>] [--json]`: prints the local CA's root certificate (PEM),
 * creating the CA if this data dir has none yet, and how to make a system or a client trust it
 * so `https://<app>.localhost:<port>` works without warnings.
 */
import { join } from 'node:path';
import type { CommandContext } from '../../registry.js';
import { resolveDataDir } from '../../../env.js';
import { LocalCa } from '../../../certs/local-ca.js';

export async function run({ options, out }: CommandContext<{ dataDir?: string }>): Promise<number> {
  const dataDir = resolveDataDir(options.dataDir);
  const ca = await LocalCa.open(dataDir);
  const path = join(dataDir, 'certs', 'ca', 'root.pem');
  if (out.json) {
    out.printJson({ path, pem: ca.rootPem });
    return 0;
  }
  out.line(ca.rootPem.trimEnd());
  out.err(`The root above is ${path}. To trust it:`);
  out.err('  Debian/Ubuntu: sudo cp <that file> /usr/local/share/ca-certificates/hangar-local-ca.crt && sudo update-ca-certificates');
  out.err('  macOS:         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain <that file>');
  out.err('  Node clients:  NODE_EXTRA_CA_CERTS=<that file>   curl: --cacert <that file>');
  return 0;
}
