/**
 * A machine's environment, as a pure function of its record, its secrets and what the agent
 * allocated for it (reference §1d "Env vars").
 *
 * Precedence, lowest first: config `env`, then the app's secrets, then the platform's `FLY_*`
 * variables (a machine cannot fake its own identity), then the process driver's `PORT`s.
 * `PRIMARY_REGION` is platform-provided only when config env does not set it (flyctl writes it
 * into `config.env` from fly.toml's `primary_region`).
 */
import type { MachineConfig } from '../core/fly/machine-config.js';

export interface MachineEnvInput {
  readonly app: string;
  readonly machineId: string;
  readonly instanceId: string;
  readonly region: string;
  readonly privateIp: string;
  readonly config: MachineConfig;
  /** Decrypted app secrets, NAME → value. */
  readonly secrets: Readonly<Record<string, string>>;
  /**
   * `internal_port` → host port the machine must listen on (process driver), in service order
   * with the first service's port first; empty for drivers that give machines their own ports.
   */
  readonly ports?: ReadonlyArray<readonly [internalPort: number, hostPort: number]>;
  /** Variables from the host the machine gets unless config/secrets set them (e.g. PATH). */
  readonly hostDefaults?: Readonly<Record<string, string>>;
}

/** The memory size the guest gets (MB): `guest.memory_mb`, else Fly's shared-cpu-1x 256. */
export function machineMemoryMb(config: MachineConfig): number {
  return config.guest?.memory_mb ?? 256;
}

/** Builds the complete environment of a machine. */
export function buildMachineEnv(input: MachineEnvInput): Record<string, string> {
  const { config } = input;
  const env: Record<string, string> = { ...(input.hostDefaults ?? {}), ...(config.env ?? {}) };
  for (const [name, value] of Object.entries(input.secrets)) env[name] = value;
  const platform: Record<string, string> = {
    FLY_APP_NAME: input.app,
    FLY_MACHINE_ID: input.machineId,
    FLY_ALLOC_ID: input.machineId,
    FLY_REGION: input.region,
    FLY_PRIVATE_IP: input.privateIp,
    FLY_PROCESS_GROUP: config.metadata?.fly_process_group ?? 'app',
    FLY_IMAGE_REF: config.image,
    FLY_MACHINE_VERSION: input.instanceId,
    FLY_VM_MEMORY_MB: String(machineMemoryMb(config)),
  };
  Object.assign(env, platform);
  if (config.env?.PRIMARY_REGION === undefined) env.PRIMARY_REGION = input.region;
  const ports = input.ports ?? [];
  const first = ports[0];
  if (first) {
    env.PORT = String(first[1]);
    for (const [internal, host] of ports) env[`PORT_${internal}`] = String(host);
  }
  return env;
}

/**
 * The internal ports a process-driver machine needs host ports for: each service's
 * `internal_port` once, in order; 8080 (Fly's conventional default) when it has no services.
 */
export function internalPorts(config: MachineConfig): number[] {
  const out: number[] = [];
  for (const s of config.services ?? []) if (!out.includes(s.internal_port)) out.push(s.internal_port);
  return out.length > 0 ? out : [8080];
}
