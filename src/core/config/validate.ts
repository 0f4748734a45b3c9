/**
 * Semantic validation of a normalized fly.toml: flyctl's rules with flyctl's exact messages
 * (reference §1b "Validation and messages"), then Hangar's own (`validate-hangar.ts`).
 *
 * Pure: `normalizeAppConfig` appends these diagnostics to its decode diagnostics, and
 * `hangar config validate` prints them. Errors fail validation; warnings do not.
 */
import { validateMounts } from './validate-mounts.js';
import { validateServices } from './validate-services.js';
import {
  validateBuild,
  validateConsoleCommand,
  validateDeploy,
  validateProcesses,
  validateRestart,
  validateTopLevelChecks,
} from './validate-sections.js';
import { validateDeploySettings, validateDuplicatePorts, validateEnvNames, validateForceHttps } from './validate-hangar.js';
import type { AppConfig, Diagnostic } from './types.js';

/** flyctl's validators, in the order `fly config validate` runs (and prints) them. */
const FLYCTL_RULES: ((config: AppConfig) => Diagnostic[])[] = [
  validateBuild,
  validateDeploy,
  validateTopLevelChecks,
  validateServices,
  validateProcesses,
  validateConsoleCommand,
  validateMounts,
  validateRestart,
];

const HANGAR_RULES: ((config: AppConfig) => Diagnostic[])[] = [
  validateDeploySettings,
  validateForceHttps,
  validateDuplicatePorts,
  validateEnvNames,
];

/**
 * Every problem in `config`, flyctl's first. Messages carry no trailing newline; `path` is the
 * fly.toml key (`services[0].tcp_checks[1].interval`, `checks.alive.timeout`, `env.FLY_APP_NAME`).
 */
export function validateAppConfig(config: AppConfig): Diagnostic[] {
  return [...FLYCTL_RULES, ...HANGAR_RULES].flatMap((rule) => rule(config));
}
