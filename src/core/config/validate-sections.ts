/**
 * flyctl's validation rules for `[build]`, `[deploy]`, top-level `[checks]`, `[processes]`,
 * `console_command` and `[[restart]]`, with flyctl's exact messages (reference §1b "Validation
 * and messages"; flyctl `internal/appconfig/validation.go`, `toplevelcheck.go`,
 * `internal/flag/validation/compression.go`). Each function returns its diagnostics in the order
 * flyctl prints them; map-shaped sections are walked in file order (flyctl's Go map order is random).
 */
import { shellSplit } from '../shell.js';
import { NS_PER_SECOND } from '../duration.js';
import { durationNs, errorAt, processNames, showDuration, warningAt } from './validate-common.js';
import type { AppConfig, Diagnostic } from './types.js';

/** The strategies flyctl's Machines deploy accepts, in the order its message lists them. */
export const DEPLOY_STRATEGIES = ['canary', 'rolling', 'immediate', 'bluegreen'] as const;

/**
 * `[build]`: more than one way to get an image is only a warning in flyctl; compression settings
 * outside gzip|zstd and 0–9 are errors.
 */
export function validateBuild(config: AppConfig): Diagnostic[] {
  const build = config.build;
  if (!build) return [];
  const out: Diagnostic[] = [];
  const strategies: string[] = [];
  if (build.image) strategies.push(`the "${build.image}" docker image`);
  if (build.builder || (build.buildpacks?.length ?? 0) > 0) strategies.push('a buildpack');
  if (build.dockerfile) strategies.push(`the "${build.dockerfile}" dockerfile`);
  else if (build['build-target']) strategies.push('a dockerfile');
  if (build.builtin) strategies.push(`the "${build.builtin}" builtin image`);
  if (strategies.length > 1) {
    out.push(warningAt('build-multiple-strategies', 'build', `WARN more than one build configuration found: [${strategies.join(', ')}]`));
  }
  const compression = build.compression;
  if (compression !== undefined && compression !== '' && compression !== 'gzip' && compression !== 'zstd') {
    out.push(
      errorAt(
        'build-compression-invalid',
        'build.compression',
        `Invalid value '${compression}' for compression. Valid options are 'gzip', 'zstd', or leave unset.`,
      ),
    );
  }
  const level = build.compression_level;
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 9)) {
    out.push(
      errorAt(
        'build-compression-level-invalid',
        'build.compression_level',
        `Invalid value '${String(level)}' for compression level. Must be an integer between 0 and 9.`,
      ),
    );
  }
  return out;
}

/** `[deploy]`: release_command must shell-split; strategy must be known; canary cannot use volumes. */
export function validateDeploy(config: AppConfig): Diagnostic[] {
  const deploy = config.deploy;
  if (!deploy) return [];
  const out: Diagnostic[] = [];
  const release = deploy.release_command ?? '';
  if (!shellSplit(release).ok) {
    out.push(errorAt('release-command-split', 'deploy.release_command', `Can't shell split release command: '${release}'`));
  }
  const s = deploy.strategy;
  if (s !== undefined && s !== '') {
    if (!(DEPLOY_STRATEGIES as readonly string[]).includes(s)) {
      out.push(
        errorAt(
          'deploy-strategy-unsupported',
          'deploy.strategy',
          `unsupported deployment strategy '${s}'; Apps v2 supports the following strategies: ${DEPLOY_STRATEGIES.join(', ')}`,
        ),
      );
    }
    // Canary machines are throw-away extra machines; they cannot attach the group's volumes.
    if (s === 'canary' && config.mounts.length > 0) {
      out.push(errorAt('deploy-canary-with-mounts', 'deploy.strategy', 'error canary deployment strategy is not supported when using mounted volumes'));
    }
  }
  return out;
}

/**
 * Top-level `[checks.<name>]`: a type of http|tcp, interval ≥ 2 s and timeout ≤ 60 s (the limits
 * the Machines API enforces for machine checks). Service checks have their own, softer rules.
 */
export function validateTopLevelChecks(config: AppConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [name, check] of Object.entries(config.checks)) {
    const type: unknown = check.type;
    if (type !== 'http' && type !== 'tcp') {
      out.push(
        errorAt('check-type-invalid', `checks.${name}.type`, `Can't process top level check '${name}': Missing or invalid check type, must be 'http' or 'tcp'`),
      );
    }
    const interval = durationNs(check.interval);
    if (interval !== undefined && interval < 2 * NS_PER_SECOND) {
      out.push(
        errorAt(
          'check-interval-too-short',
          `checks.${name}.interval`,
          `Check '${name}' interval is too short: ${showDuration(interval)}, minimum is 2 seconds`,
        ),
      );
    }
    const timeout = durationNs(check.timeout);
    if (timeout !== undefined && timeout > 60 * NS_PER_SECOND) {
      out.push(
        errorAt('check-timeout-too-long', `checks.${name}.timeout`, `Check '${name}' timeout is too long: ${showDuration(timeout)}, maximum is 60 seconds`),
      );
    }
  }
  return out;
}

/** `[processes]`: every non-empty command must shell-split (an empty one means the image's command). */
export function validateProcesses(config: AppConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [name, command] of Object.entries(config.processes)) {
    if (command === '') continue;
    const split = shellSplit(command);
    if (!split.ok) {
      out.push(
        errorAt(
          'process-command-split',
          `processes.${name}`,
          `Could not parse command for '${name}' process group; check [processes] section: ${split.error}`,
        ),
      );
    }
  }
  return out;
}

/** `console_command` must shell-split (flyctl checks it even when unset: "" splits fine). */
export function validateConsoleCommand(config: AppConfig): Diagnostic[] {
  const command = config.console_command ?? '';
  if (shellSplit(command).ok) return [];
  return [errorAt('console-command-split', 'console_command', `Can't shell split console command: '${command}'`)];
}

const RESTART_POLICIES: readonly string[] = ['always', 'never', 'on-failure'];

/**
 * `[[restart]]`: `processes` must name existing groups. An unknown policy is normally reported by
 * the decoder (`invalid restart policy: <p>`); it is re-checked here only for configs built in code.
 */
export function validateRestart(config: AppConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const names = processNames(config);
  config.restart.forEach((restart, i) => {
    for (const p of restart.processes) {
      if (!names.includes(p)) {
        out.push(
          errorAt(
            'restart-process-unknown',
            `restart[${i}].processes`,
            `Restart policy specifies '${p}' as one of its processes, but no processes are defined with that name; ` +
              `update fly.toml [processes] to add '${p}' process or remove it from restart policy's processes list`,
          ),
        );
      }
    }
    const policy: unknown = restart.policy;
    if (typeof policy !== 'string' || !RESTART_POLICIES.includes(policy)) {
      out.push(errorAt('restart-policy-invalid', `restart[${i}].policy`, `invalid restart policy: ${String(policy)}`));
    }
  });
  return out;
}
