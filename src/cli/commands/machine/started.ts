/** The lines printed once a machine has started: its id and where it answers (`hangar_routing`). */
import type { Output } from '../../output.js';
import type { ApiMachine } from '../../../client/types.js';
import type { ApiClient } from '../../../client/api.js';
import { machineUrls } from '../common/format.js';

export function printStarted(out: Output, m: ApiMachine): void {
  out.line(`Machine ${m.id} is ${m.state} (instance ${m.instance_id}, region ${m.region})`);
  for (const { internalPort, url } of machineUrls(m)) out.line(`  internal port ${internalPort} answers on ${url}`);
  if (m.private_ip) out.line(`  private ip ${m.private_ip}`);
}

/** Waits until `version` of the machine is started, then prints it (JSON with --json). */
export async function waitAndPrintStarted(out: Output, client: ApiClient, app: string, id: string, version: string): Promise<void> {
  await client.waitMachine(app, id, 'started', { instanceId: version });
  const machine = await client.getMachine(app, id);
  if (out.json) out.printJson(machine);
  else printStarted(out, machine);
}
