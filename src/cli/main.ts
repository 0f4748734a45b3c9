/**
 * The CLI entry: builds the commander tree from the command registry and runs it.
 *
 * Command modules are imported only when their command runs (registry entries hold a loader, not
 * the module), so start-up cost stays that of commander alone (bench/cli-startup).
 */
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, type CommandSpec } from './registry.js';
import { handleError } from './errors.js';
import { createOutput, processIo, type GlobalOptions, type Io } from './output.js';

interface RunState {
  io: Io;
  exitCode: number;
}

function addSpec(parent: Command, spec: CommandSpec, state: RunState): void {
  const cmd = parent.command(spec.name).description(spec.summary);
  for (const alias of spec.aliases ?? []) cmd.alias(alias);
  for (const arg of spec.args ?? []) cmd.argument(arg.name, arg.description);
  for (const opt of spec.options ?? []) {
    const o = new Option(opt.flags, opt.description);
    if (opt.default !== undefined) o.default(opt.default);
    if (opt.choices) o.choices(opt.choices);
    if (opt.collect) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(o);
  }
  if (spec.subcommands) {
    for (const sub of spec.subcommands) addSpec(cmd, sub, state);
    return;
  }
  const load = spec.load;
  if (!load) return;
  cmd.action(async (...actionArgs: unknown[]) => {
    // commander passes (...positionals, options, command)
    const command = actionArgs[actionArgs.length - 1] as Command;
    const positionals = actionArgs.slice(0, -2);
    const globals = command.optsWithGlobals<GlobalOptions>();
    const mod = await load();
    const out = createOutput(globals, state.io);
    const code = await mod.run({ args: positionals, options: command.opts(), globals, out });
    if (typeof code === 'number') state.exitCode = code;
  });
}

/** Builds the program; exported for tests that want to inspect the tree. */
export function buildProgram(state: RunState = { io: processIo, exitCode: 0 }): Command {
  const { io } = state;
  const program = new Command('hangar')
    .description('Hangar: a self-hostable Fly.io platform')
    .option('-a, --app <name>', 'app name (defaults to `app` in fly.toml)')
    .option('-c, --config <path>', 'path to fly.toml (default: ./fly.toml)')
    .option('-j, --json', 'print machine-readable JSON')
    .option('--debug', 'print the cause chain of errors')
    .showHelpAfterError()
    .configureOutput({ writeOut: (t) => io.stdout(t), writeErr: (t) => io.stderr(t) })
    .exitOverride();
  for (const spec of COMMANDS) addSpec(program, spec, state);
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const state: RunState = { io, exitCode: 0 };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version output are not failures
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      return err.exitCode || 2;
    }
    return handleError(err, { debug: argv.includes('--debug'), io });
  }
}
