/** `hangar machine status <id> [--json]`: one machine, its address and its recent events. */
import type { CommandContext } from '../../registry.js';
import { connect, type TokenOptions } from '../common/api.js';
import { resolveApp } from '../common/app.js';
import { keyValues, machineUrls } from '../common/format.js';

export async function run(ctx: CommandContext<TokenOptions>): Promise<void> {
  const id = String(ctx.args[0]);
  const app = await resolveApp(ctx.globals);
  const m = await connect(ctx).getMachine(app, id);
  if (ctx.out.json) {
    ctx.out.printJson(m);
    return;
  }
  const urls = machineUrls(m);
  for (const l of keyValues([
    ['Machine ID', m.id],
    ['Name', m.name],
    ['State', m.state],
    ['Region', m.region],
    ['Image', m.config.image],
    ['Instance ID', m.instance_id],
    ['Private IP', m.private_ip],
    ['Address', urls.map((u) => `${u.url} (internal port ${u.internalPort})`).join(', ')],
    ['Cordoned', m.cordoned],
    ['Created', m.created_at],
    ['Updated', m.updated_at],
  ]))
    ctx.out.line(l);
  const events = (m.events ?? []).slice(0, 10);
  if (events.length > 0) {
    ctx.out.line();
    ctx.out.line('Recent events');
    ctx.out.table(
      ['STATE', 'EVENT', 'SOURCE', 'TIMESTAMP', 'INFO'],
      events.map((e) => {
        const exit = e.request?.exit_event;
        const info = exit ? `exit_code=${exit.exit_code},oom_killed=${exit.oom_killed},requested_stop=${exit.requested_stop}` : '';
        return [e.status, e.type, e.source, new Date(e.timestamp).toISOString(), info];
      }),
    );
  }
}
