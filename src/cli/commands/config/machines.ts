/**
 * `hangar config machines [-c path] [--json] [-i/--image ref]`: prints the machine config that a
 * deploy would create for each process group, and for the release command, without talking to
 * any server (a dry run of the planner, STYLE.md habit 1).
 *
 * The CLI is the I/O edge: it reads fly.toml and any `[[files]] local_path` (relative to the
 * folder holding fly.toml); normalizing and planning are pure.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CommandContext } from '../../registry.js';
import type { Output } from '../../output.js';
import type { Diagnostic } from '../../../core/config/types.js';
import type { MachineConfig, MachineService } from '../../../core/fly/machine-config.js';
import { readConfigFile } from '../../config-file.js';
import { normalizeAppConfig } from '../../../core/config/normalize.js';
import { planMachineConfigs, RELEASE_COMMAND_GROUP } from '../../../core/config/plan.js';
import { HangarError } from '../../../core/errors.js';

/** The image named when neither `--image` nor `[build] image` says which (the deploy builds one). */
export const IMAGE_PLACEHOLDER = 'image-to-build';

interface MachinesOptions {
  image?: string;
}

function describe(d: Diagnostic): string {
  return d.path ? `  ${d.path}: ${d.message}` : `  ${d.message}`;
}

function fail(message: string, diagnostics: Diagnostic[]): never {
  throw new HangarError('HANGAR_ERR_CONFIG_INVALID', message, { details: diagnostics.filter((d) => d.severity === 'error').map(describe) });
}

function serviceLine(svc: MachineService): string {
  const ports = (svc.ports ?? []).map((p) => {
    const port = p.port !== undefined ? String(p.port) : `${p.start_port ?? ''}-${p.end_port ?? ''}`;
    const handlers = p.handlers && p.handlers.length > 0 ? ` [${p.handlers.join(',')}]` : '';
    return `${port}${handlers}${p.force_https ? ' (force https)' : ''}`;
  });
  const checks = svc.checks?.length ? `, ${svc.checks.length} check${svc.checks.length === 1 ? '' : 's'}` : '';
  return `${svc.protocol} ${svc.internal_port} <- ${ports.length > 0 ? ports.join(', ') : 'no public ports'}${checks}`;
}

function summarize(out: Output, title: string, mc: MachineConfig): void {
  out.line(title);
  const g = mc.guest;
  const guest = g ? `${g.cpu_kind}, ${g.cpus} CPU${g.cpus === 1 ? '' : 's'}, ${g.memory_mb} MB${g.gpu_kind ? `, ${g.gpus ?? 1}x ${g.gpu_kind}` : ''}` : 'unchanged';
  out.line(`  guest:     ${guest}`);
  out.line(`  image:     ${mc.image}`);
  const cmd = [...(mc.init?.entrypoint ?? []), ...(mc.init?.cmd ?? [])];
  out.line(`  command:   ${cmd.length > 0 ? JSON.stringify(cmd) : '(image default)'}`);
  if (mc.restart) out.line(`  restart:   ${mc.restart.policy}${mc.restart.max_retries ? ` (max ${mc.restart.max_retries} retries)` : ''}`);
  for (const [i, svc] of (mc.services ?? []).entries()) out.line(`  ${i === 0 ? 'services: ' : '          '} ${serviceLine(svc)}`);
  for (const [i, m] of (mc.mounts ?? []).entries()) out.line(`  ${i === 0 ? 'mounts:   ' : '          '} ${m.name ?? m.volume ?? '?'} -> ${m.path}`);
  for (const [i, [name, c]] of Object.entries(mc.checks ?? {}).entries()) {
    const target = c.type === 'http' ? ` ${c.method ?? 'GET'} ${c.path ?? '/'}` : '';
    out.line(`  ${i === 0 ? 'checks:   ' : '          '} ${name}: ${c.type ?? '?'} :${c.port ?? '?'}${target}${c.interval ? ` every ${c.interval}` : ''}`);
  }
  if (mc.metrics) out.line(`  metrics:   :${mc.metrics.port}${mc.metrics.path}`);
  if (mc.files?.length) out.line(`  files:     ${mc.files.map((f) => f.guest_path).join(', ')}`);
  out.line();
}

export async function run(ctx: CommandContext<MachinesOptions>): Promise<number> {
  const { out, globals } = ctx;
  const file = readConfigFile(globals.config);
  const normalized = normalizeAppConfig(file.text, { path: file.displayPath });
  // warnings carry their own `WARN`/`WARNING:` prefix (flyctl's wording), as `config validate` prints them
  for (const d of normalized.diagnostics) if (d.severity === 'warning') out.err(d.message);
  const config = normalized.config;
  if (!config || normalized.diagnostics.some((d) => d.severity === 'error')) {
    fail(`${file.displayPath} is not a valid app configuration`, normalized.diagnostics);
  }

  const baseDir = dirname(file.absolutePath);
  const plan = planMachineConfigs(config, {
    image: ctx.options.image ?? config.build?.image ?? IMAGE_PLACEHOLDER,
    readLocalFile: (path) => {
      try {
        return readFileSync(resolve(baseDir, path));
      } catch {
        return undefined;
      }
    },
  });
  for (const d of plan.diagnostics) if (d.severity === 'warning') out.err(d.message);
  if (plan.diagnostics.some((d) => d.severity === 'error')) {
    fail(`cannot plan machines for ${file.displayPath}`, plan.diagnostics);
  }

  const names = Object.keys(plan.groups).sort();
  if (out.json) {
    const groups: Record<string, MachineConfig> = {};
    for (const name of names) groups[name] = plan.groups[name] as MachineConfig;
    out.printJson({ groups, release_command: plan.release_command ?? null });
    return 0;
  }
  for (const name of names) summarize(out, `Process group '${name}'`, plan.groups[name] as MachineConfig);
  if (plan.release_command) summarize(out, `Release command (${RELEASE_COMMAND_GROUP})`, plan.release_command);
  else out.line('No release command.');
  return 0;
}
