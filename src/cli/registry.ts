/**
 * Every CLI command, declared as data in one place (STYLE.md habit 7). Each verb's code lives in
 * `commands/<noun>/<verb>.ts` and is loaded only when that verb runs.
 */
import type { GlobalOptions, Output } from './output.js';

export interface CommandContext<O = Record<string, unknown>> {
  /** Positional arguments, in declaration order (variadic ones as arrays). */
  args: unknown[];
  /** This command's own options. */
  options: O;
  /** Global options (-a, -c, --json, --debug). */
  globals: GlobalOptions;
  out: Output;
}

export interface CommandModule {
  run(ctx: CommandContext<never>): Promise<number | void>;
}

export interface OptionSpec {
  flags: string;
  description: string;
  default?: string | boolean | string[];
  choices?: string[];
  /** Repeatable flag collected into an array (e.g. `-e K=V -e K2=V2`). */
  collect?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  aliases?: string[];
  args?: { name: string; description: string }[];
  options?: OptionSpec[];
  subcommands?: CommandSpec[];
  load?: () => Promise<CommandModule>;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'version',
    summary: 'Print the Hangar version',
    load: () => import('./commands/version.js') as Promise<CommandModule>,
  },
  {
    name: 'config',
    summary: 'Validate and inspect fly.toml',
    subcommands: [
      {
        name: 'validate',
        summary: 'Validate fly.toml as flyctl does, listing every problem at once',
        options: [{ flags: '-s, --strict', description: 'also list sections and keys Fly does not recognise' }],
        load: () => import('./commands/config/validate.js') as Promise<CommandModule>,
      },
      {
        name: 'show',
        summary: 'Print the normalized configuration',
        load: () => import('./commands/config/show.js') as Promise<CommandModule>,
      },
      {
        name: 'machines',
        summary: 'Print the machine config planned for each process group (and the release command)',
        options: [{ flags: '-i, --image <ref>', description: 'image for the machines (default: [build] image, else a placeholder)' }],
        load: () => import('./commands/config/machines.js') as Promise<CommandModule>,
      },
    ],
  },
];
