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

/** `-t/--access-token`, flyctl's global flag, on every command that calls the API. */
const DATA_DIR: OptionSpec = { flags: '--data-dir <dir>', description: 'data dir (default $HANGAR_DATA_DIR or ~/.hangar)' };
const PROXY_FLAGS: OptionSpec[] = [
  { flags: '--http-addr <host:port>', description: 'where the edge proxy serves HTTP (stands in for port 80; default 127.0.0.1:8080)' },
  { flags: '--https-addr <host:port>', description: 'where the edge proxy serves HTTPS (stands in for port 443; default 127.0.0.1:8443)' },
  { flags: '--base-domain <domain>', description: 'apps answer on <app>.<domain> (default localhost)' },
  { flags: '--proxy-port-map <public=host:port,...>', description: 'where TCP services listen (default: public port ≥ 1024 on 127.0.0.1:<port>, lower ones on 127.0.0.1:<10000+port>)' },
  { flags: '--autostop-interval <duration>', description: 'how often autostop runs (default 3m; 0 turns it off)' },
  { flags: '--region-distances <file>', description: 'JSON {"ams":{"fra":8,...}} of region distances in ms for closest-first routing and top<N>.nearest.of (default: estimated from the regions\' cities)' },
];
const TOKEN: OptionSpec = { flags: '-t, --access-token <token>', description: 'API token (wins over HANGAR_API_TOKEN and ~/.hangar/config.json)' };

/** Flags shared by `machine run` and `machine update` (flyctl's names, reference §1e). */
const MACHINE_CONFIG_FLAGS: OptionSpec[] = [
  { flags: '-e, --env <NAME=VALUE>', description: 'environment variable (repeatable)', collect: true },
  { flags: '-p, --port <spec>', description: 'publish a port: port[:internal][/tcp|udp[:handler...]], e.g. 80:8080/tcp:http (repeatable)', collect: true },
  { flags: '--vm-size <size>', description: 'preset size, e.g. shared-cpu-1x' },
  { flags: '--vm-cpus <n>', description: 'number of CPUs' },
  { flags: '--vm-memory <size>', description: 'memory, e.g. 512 or 1gb' },
  { flags: '--vm-cpu-kind <kind>', description: 'shared or performance' },
  { flags: '--restart <policy>', description: 'restart policy', choices: ['no', 'always', 'on-failure'] },
  { flags: '--autostop [mode]', description: 'let the proxy stop the machine when idle: off, stop (bare flag) or suspend' },
  { flags: '--autostart [bool]', description: 'let the proxy start the machine on a request (true when bare)' },
  { flags: '--entrypoint <command>', description: 'replace the image entrypoint' },
  { flags: '--detach', description: 'return once the machine is created, without waiting for it to start' },
];

const load = (loader: () => Promise<unknown>) => loader as () => Promise<CommandModule>;

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
  {
    name: 'server',
    summary: 'Run the control plane with an embedded agent (the single-host platform)',
    options: [
      { flags: '--data-dir <dir>', description: 'where state, images and machine files live' },
      { flags: '--api-addr <host:port>', description: 'address the Machines API listens on' },
      { flags: '--driver <name>', description: 'runtime driver for machines', choices: ['process', 'crun', 'fake'] },
      { flags: '--region <code>', description: 'region of the embedded host' },
      { flags: '--log-level <level>', description: 'log level (trace, debug, info, warn, error)' },
      { flags: '--stop-machines-on-exit', description: 'stop every machine when the server exits (default: leave them running)' },
      { flags: '--dns-addr <host:port>', description: 'where the .internal resolver listens (default: HANGAR_DNS_ADDR or 127.0.0.1:5354)' },
      ...PROXY_FLAGS,
      { flags: '--no-proxy', description: 'do not run the edge proxy in this process' },
    ],
    load: load(() => import('./commands/server.js')),
  },
  {
    name: 'proxy',
    summary: "Run only the edge proxy against a data dir's store (split deployments)",
    options: [
      DATA_DIR,
      { flags: '--region <code>', description: 'region of this proxy (default local)' },
      ...PROXY_FLAGS,
      { flags: '--metrics-addr <host:port|off>', description: 'where Prometheus metrics are served' },
    ],
    load: load(() => import('./commands/proxy.js')),
  },
  {
    name: 'auth',
    summary: 'Log in to a Hangar API and show who you are',
    subcommands: [
      {
        name: 'login',
        summary: 'Check a token and save it (with the API URL) in the CLI config file',
        options: [
          { flags: '--token <token>', description: 'the token to log in with' },
          { flags: '--api-url <url>', description: 'the API to log in to (default: HANGAR_API_URL, the config file, or http://127.0.0.1:4280)' },
        ],
        load: load(() => import('./commands/auth/login.js')),
      },
      { name: 'whoami', summary: 'Show the org, role and name of the token in use', options: [TOKEN], load: load(() => import('./commands/auth/whoami.js')) },
    ],
  },
  {
    name: 'tokens',
    summary: 'Manage API tokens',
    subcommands: [
      {
        name: 'create',
        summary: 'Create a deploy or readonly token for your org',
        args: [{ name: '<type>', description: 'deploy or readonly' }],
        options: [{ flags: '--name <name>', description: 'a name to recognise the token by' }, TOKEN],
        load: load(() => import('./commands/tokens/create.js')),
      },
    ],
  },
  {
    name: 'apps',
    summary: 'Manage apps',
    subcommands: [
      {
        name: 'create',
        summary: 'Create an app',
        args: [{ name: '[name]', description: 'app name' }],
        options: [
          { flags: '--name <name>', description: 'app name (instead of the argument)' },
          { flags: '--org <slug>', description: 'organization (default: the token\'s)' },
          { flags: '--network <name>', description: 'isolated 6PN network for the app' },
          TOKEN,
        ],
        load: load(() => import('./commands/apps/create.js')),
      },
      {
        name: 'list',
        summary: 'List apps',
        options: [{ flags: '--org <slug>', description: 'organization (default: the token\'s)' }, TOKEN],
        load: load(() => import('./commands/apps/list.js')),
      },
      { name: 'show', summary: 'Show an app', args: [{ name: '[name]', description: 'app name (default: -a or fly.toml)' }], options: [TOKEN], load: load(() => import('./commands/apps/show.js')) },
      {
        name: 'destroy',
        summary: 'Destroy an app with its machines and volumes',
        args: [{ name: '<name>', description: 'app name' }],
        options: [{ flags: '-y, --yes', description: 'confirm' }, TOKEN],
        load: load(() => import('./commands/apps/destroy.js')),
      },
    ],
  },
  {
    name: 'machine',
    summary: 'Manage machines',
    aliases: ['machines', 'm'],
    subcommands: [
      {
        name: 'run',
        summary: 'Create and start a machine',
        args: [
          { name: '<image>', description: 'image reference, or dir:<path> for a local directory (process driver)' },
          { name: '[command...]', description: 'command to run (init.cmd)' },
        ],
        options: [
          { flags: '-n, --name <name>', description: 'machine name (default: generated)' },
          { flags: '-r, --region <code>', description: 'region to place it in' },
          ...MACHINE_CONFIG_FLAGS,
          TOKEN,
        ],
        load: load(() => import('./commands/machine/run.js')),
      },
      {
        name: 'list',
        summary: 'List the machines of an app',
        options: [{ flags: '-r, --region <code>', description: 'only this region' }, TOKEN],
        load: load(() => import('./commands/machine/list.js')),
      },
      { name: 'status', summary: 'Show a machine', args: [{ name: '<id>', description: 'machine id' }], options: [TOKEN], load: load(() => import('./commands/machine/status.js')) },
      { name: 'start', summary: 'Start machines', args: [{ name: '<id...>', description: 'machine ids' }], options: [TOKEN], load: load(() => import('./commands/machine/start.js')) },
      {
        name: 'stop',
        summary: 'Stop machines',
        args: [{ name: '<id...>', description: 'machine ids' }],
        options: [
          { flags: '-s, --signal <signal>', description: 'signal to stop with (default: the machine\'s stop_config, else SIGINT)' },
          { flags: '--timeout <duration>', description: 'time to wait before SIGKILL, e.g. 10 or 30s' },
          TOKEN,
        ],
        load: load(() => import('./commands/machine/stop.js')),
      },
      {
        name: 'restart',
        summary: 'Restart a machine',
        args: [{ name: '<id>', description: 'machine id' }],
        options: [
          { flags: '-s, --signal <signal>', description: 'signal to stop with' },
          { flags: '--timeout <duration>', description: 'time to wait before SIGKILL' },
          { flags: '--force-stop', description: 'kill the machine instead of stopping it gracefully' },
          TOKEN,
        ],
        load: load(() => import('./commands/machine/restart.js')),
      },
      {
        name: 'destroy',
        summary: 'Destroy a machine',
        aliases: ['remove', 'rm'],
        args: [{ name: '<id>', description: 'machine id' }],
        options: [{ flags: '-f, --force', description: 'kill the machine if it is running' }, TOKEN],
        load: load(() => import('./commands/machine/destroy.js')),
      },
      {
        name: 'update',
        summary: 'Change a machine\'s config (a new version)',
        args: [{ name: '<id>', description: 'machine id' }],
        options: [
          { flags: '--image <image>', description: 'new image (dir:<path> for a local directory)' },
          { flags: '--command <command>', description: 'new command (init.cmd)' },
          ...MACHINE_CONFIG_FLAGS,
          TOKEN,
        ],
        load: load(() => import('./commands/machine/update.js')),
      },
      {
        name: 'clone',
        summary: 'Create a machine with the config of another',
        args: [{ name: '<id>', description: 'machine id to clone' }],
        options: [
          { flags: '-r, --region <code>', description: 'region of the clone (default: the source\'s)' },
          { flags: '-n, --name <name>', description: 'name of the clone' },
          { flags: '--detach', description: 'do not wait for the clone to start' },
          TOKEN,
        ],
        load: load(() => import('./commands/machine/clone.js')),
      },
      {
        name: 'exec',
        summary: 'Run a command in a machine',
        args: [
          { name: '<id>', description: 'machine id' },
          { name: '<command>', description: 'command line (one argument; quote it)' },
        ],
        options: [{ flags: '--timeout <seconds>', description: 'time limit for the command' }, TOKEN],
        load: load(() => import('./commands/machine/exec.js')),
      },
      {
        name: 'leases',
        summary: 'View or clear machine leases',
        subcommands: [
          { name: 'view', summary: 'Show the lease on a machine', args: [{ name: '<id>', description: 'machine id' }], options: [TOKEN], load: load(() => import('./commands/machine/leases/view.js')) },
          { name: 'clear', summary: 'Release the lease on a machine', args: [{ name: '<id>', description: 'machine id' }], options: [TOKEN], load: load(() => import('./commands/machine/leases/clear.js')) },
        ],
      },
    ],
  },
  {
    name: 'volumes',
    summary: 'Manage volumes',
    aliases: ['volume', 'vol'],
    subcommands: [
      {
        name: 'create',
        summary: 'Create a volume',
        args: [{ name: '<name>', description: 'volume name' }],
        options: [
          { flags: '-s, --size <gb>', description: 'size in GB (default 1)' },
          { flags: '-r, --region <code>', description: 'region' },
          { flags: '--no-encryption', description: 'do not encrypt the volume' },
          TOKEN,
        ],
        load: load(() => import('./commands/volumes/create.js')),
      },
      { name: 'list', summary: 'List volumes', options: [TOKEN], load: load(() => import('./commands/volumes/list.js')) },
      { name: 'show', summary: 'Show a volume', args: [{ name: '<id>', description: 'volume id' }], options: [TOKEN], load: load(() => import('./commands/volumes/show.js')) },
      {
        name: 'extend',
        summary: 'Grow a volume',
        args: [{ name: '<id>', description: 'volume id' }],
        options: [{ flags: '-s, --size <gb>', description: 'new size in GB, or +N to add N GB' }, TOKEN],
        load: load(() => import('./commands/volumes/extend.js')),
      },
      {
        name: 'destroy',
        summary: 'Destroy a volume',
        args: [{ name: '<id>', description: 'volume id' }],
        options: [{ flags: '-y, --yes', description: 'confirm' }, TOKEN],
        load: load(() => import('./commands/volumes/destroy.js')),
      },
    ],
  },
  {
    name: 'secrets',
    summary: 'Manage app secrets',
    subcommands: [
      { name: 'set', summary: 'Set secrets', args: [{ name: '<NAME=VALUE...>', description: 'secrets to set' }], options: [TOKEN], load: load(() => import('./commands/secrets/set.js')) },
      { name: 'list', summary: 'List secret names and digests', options: [TOKEN], load: load(() => import('./commands/secrets/list.js')) },
      { name: 'unset', summary: 'Remove secrets', args: [{ name: '<NAME...>', description: 'secret names' }], options: [TOKEN], load: load(() => import('./commands/secrets/unset.js')) },
      { name: 'import', summary: 'Set secrets from NAME=VALUE lines on stdin', options: [TOKEN], load: load(() => import('./commands/secrets/import.js')) },
    ],
  },
  {
    name: 'image',
    summary: 'Manage the images on this host',
    subcommands: [
      {
        name: 'import',
        summary: 'Import an OCI image layout or `docker save` tar (gzip ok)',
        args: [{ name: '<archive>', description: 'path to the archive' }],
        options: [DATA_DIR, { flags: '--tag <ref>', description: 'name the imported image' }, { flags: '--no-unpack', description: 'do not unpack the rootfs now' }],
        load: () => import('./commands/image/import.js') as Promise<CommandModule>,
      },
      {
        name: 'list',
        aliases: ['ls'],
        summary: 'List the images on this host',
        options: [DATA_DIR],
        load: () => import('./commands/image/list.js') as Promise<CommandModule>,
      },
      {
        name: 'pull',
        summary: 'Pull an image from its registry and unpack it',
        args: [{ name: '<ref>', description: 'image reference, e.g. busybox or 127.0.0.1:5000/app:v1' }],
        options: [
          DATA_DIR,
          { flags: '--platform <os/arch>', description: 'platform to choose from a manifest list' },
          { flags: '--insecure-registry <host:port>', description: 'use plain HTTP for this registry (repeatable; loopback always does)', collect: true },
          { flags: '--no-unpack', description: 'do not unpack the rootfs now' },
        ],
        load: () => import('./commands/image/pull.js') as Promise<CommandModule>,
      },
    ],
  },
  {
    name: 'dig',
    summary: "Query Hangar's .internal DNS resolver",
    args: [
      { name: '[type]', description: 'record type (default AAAA)' },
      { name: '[name]', description: 'name to look up' },
    ],
    options: [
      { flags: '--server <host:port>', description: 'resolver (default: HANGAR_DNS_ADDR or 127.0.0.1:5354)' },
      { flags: '--timeout <ms>', description: 'per-attempt timeout (default 2000)' },
    ],
    load: () => import('./commands/dig.js') as Promise<CommandModule>,
  },
  {
    name: 'certs',
    summary: 'Manage TLS certificates',
    subcommands: [
      {
        name: 'ca',
        summary: 'Print the local CA root certificate and how to trust it',
        options: [DATA_DIR],
        load: load(() => import('./commands/certs/ca.js')),
      },
    ],
  },
  {
    name: 'logs',
    summary: 'Show (and follow) an app\'s logs',
    options: [
      { flags: '-i, --machine <id>', description: 'only this machine' },
      { flags: '-r, --region <code>', description: 'only this region' },
      { flags: '--no-tail', description: 'print the buffered logs and exit' },
      TOKEN,
    ],
    load: load(() => import('./commands/logs.js')),
  },
];
