/**
 * The one registry of Hangar's coded errors (STYLE.md habit 5, after fastify's lib/errors.js).
 *
 * Every error Hangar raises on purpose has a code here, with the HTTP status the API answers it
 * with, whether it is the user's fault (bad input) or the system's, and a suggestion the CLI
 * prints under the message. `docs/errors.md` lists the same codes; a test keeps the two in sync.
 * Machines API errors additionally carry Fly's `status` value where Fly defines one
 * (reference §1a "Error shape").
 */

export interface ErrorSpec {
  /** HTTP status the API answers with. */
  readonly http: number;
  /** true when the caller can fix it (bad input); false for faults of Hangar or the host. */
  readonly user: boolean;
  /** What to do about it, printed by the CLI under the message. */
  readonly suggestion: string;
  /** Fly's machine-readable `status` for the API error body, where Fly has one. */
  readonly flyStatus?: string;
}

export const ERRORS = {
  HANGAR_ERR_CONFIG_NOT_FOUND: {
    http: 400,
    user: true,
    suggestion: 'Run the command in the folder that holds fly.toml, or pass its path with -c/--config.',
  },
  HANGAR_ERR_CONFIG_UNREADABLE: {
    http: 400,
    user: true,
    suggestion: 'Check the file exists, is a regular file and is readable.',
  },
  HANGAR_ERR_CONFIG_INVALID: {
    http: 422,
    user: true,
    suggestion: 'Fix the problems listed above; `hangar config validate` lists them all at once.',
  },
  HANGAR_ERR_CONFIG_STRICT: {
    http: 422,
    user: true,
    suggestion: 'Remove or rename the keys listed above, or validate without --strict.',
  },
  HANGAR_ERR_USAGE: {
    http: 400,
    user: true,
    suggestion: 'Run the command with --help to see its arguments and flags.',
  },
  HANGAR_ERR_STORE_CONFLICT: {
    http: 409,
    user: true,
    suggestion: 'Someone changed the same object at the same time: read it again and retry.',
  },
  HANGAR_ERR_STORE_INVALID: {
    http: 400,
    user: true,
    suggestion: 'The request named an object or value the store cannot hold; check the identifiers and values sent.',
  },
  HANGAR_ERR_STORE_CORRUPT: {
    http: 500,
    user: false,
    suggestion: 'The state database is damaged or is not a Hangar store: restore it from a backup, or point --data-dir at the right folder.',
  },
  HANGAR_ERR_STORE_IO: {
    http: 503,
    user: false,
    suggestion: 'The state database could not be read or written: check the disk has space and the data dir is writable.',
  },
  HANGAR_ERR_STORE_CLOSED: {
    http: 503,
    user: false,
    suggestion: 'The server is shutting down; retry once it is back.',
  },
  HANGAR_ERR_BUS_TIMEOUT: {
    http: 504,
    user: false,
    suggestion: 'The host agent did not answer in time: check it is running (`hangar server` logs) and retry.',
  },
  HANGAR_ERR_BUS_NO_RESPONDERS: {
    http: 503,
    user: false,
    suggestion: 'No host agent is listening for this request: check the host that runs the machine is up.',
  },
  HANGAR_ERR_BUS_REMOTE: {
    http: 502,
    user: false,
    suggestion: 'The host agent failed to carry out the request; its logs say why.',
  },
  HANGAR_ERR_BUS_INVALID: {
    http: 400,
    user: true,
    suggestion: 'Check the subject or stream name: tokens are separated by dots, with * and > as wildcards.',
  },
  HANGAR_ERR_BUS_STREAM_NOT_FOUND: {
    http: 404,
    user: true,
    suggestion: 'Create the stream first, or check its name.',
  },
  HANGAR_ERR_BUS_STREAM_EXISTS: {
    http: 409,
    user: true,
    suggestion: 'A stream with that name or overlapping subjects exists with another configuration.',
  },
  HANGAR_ERR_BUS_SLOW_CONSUMER: {
    http: 503,
    user: false,
    suggestion: 'A subscriber could not keep up and messages were dropped for it; it should read from the stream instead.',
  },
  HANGAR_ERR_BUS_CLOSED: {
    http: 503,
    user: false,
    suggestion: 'The server is shutting down; retry once it is back.',
  },
  HANGAR_ERR_DRIVER_START: {
    http: 422,
    user: true,
    suggestion: 'Check the machine config: the image must exist and init.exec (or entrypoint + cmd) must name a program in it.',
  },
  HANGAR_ERR_DRIVER_HANDLE: {
    http: 500,
    user: false,
    suggestion: 'The persisted handle of a machine does not match this driver or version; check --driver matches the one that started it.',
  },
  HANGAR_ERR_DRIVER_NOT_RUNNING: {
    http: 412,
    user: true,
    suggestion: 'Start the machine first (`hangar machine start <id>`).',
  },
  HANGAR_ERR_DRIVER_UNSUPPORTED: {
    http: 400,
    user: true,
    suggestion: 'This host\'s runtime driver cannot do that; run the machine on a host with a driver that can (see `hangar server --driver`).',
  },
  HANGAR_ERR_DRIVER_UNKNOWN: {
    http: 400,
    user: true,
    suggestion: 'Choose one of the drivers this host offers: process, crun or fake.',
  },
  HANGAR_ERR_DRIVER_SIGNAL: {
    http: 400,
    user: true,
    suggestion: 'Use a signal name such as SIGTERM, SIGINT, SIGKILL, SIGHUP, SIGUSR1, or its number.',
  },
  HANGAR_ERR_AGENT_IMAGE: {
    http: 422,
    user: true,
    suggestion: 'Use an image this host can run: `dir:<absolute path>` with the process driver, an OCI image with crun.',
  },
  HANGAR_ERR_AGENT_SECRET: {
    http: 500,
    user: false,
    suggestion: "A secret cannot be decrypted with this host's key file (<data-dir>/secrets.key): restore the key, or set the secret again.",
  },
  HANGAR_ERR_AGENT_VOLUME: {
    http: 422,
    user: true,
    suggestion: 'Create the volume first (`hangar volumes create`) in the machine\'s region, or remove it from the machine\'s mounts.',
  },
  HANGAR_ERR_AGENT_NOT_RUNNING: {
    http: 412,
    user: true,
    suggestion: 'Start the machine first (`hangar machine start <id>`), then retry.',
  },
  HANGAR_ERR_AGENT_REQUEST: {
    http: 400,
    user: true,
    suggestion: 'Check the request: exec needs a command, signal a known signal name or number.',
  },
  HANGAR_ERR_SERVER_LOCKED: {
    http: 409,
    user: true,
    suggestion: 'Another `hangar server` uses this data dir: stop it, or start this one with another --data-dir.',
  },
  HANGAR_ERR_SERVER_USAGE: {
    http: 400,
    user: true,
    suggestion: 'Check the flags: --api-addr takes HOST:PORT, --driver one of process, crun, fake, --region a region code.',
  },
  HANGAR_ERR_SERVER_DRIVER: {
    http: 400,
    user: true,
    suggestion: 'Pick a driver this host supports; `hangar server` prints which ones are available and why others are not.',
  },
  HANGAR_ERR_INTERNAL: {
    http: 500,
    user: false,
    suggestion: 'This is a bug in Hangar: run again with --debug and report the output.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a registered code. The message says what went wrong, specifically. */
export class HangarError extends Error {
  readonly code: ErrorCode;
  /** Extra lines shown under the message (e.g. every diagnostic of a config). */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HangarError';
    this.code = code;
    this.details = options.details ?? [];
  }

  get spec(): ErrorSpec {
    return ERRORS[this.code];
  }

  get suggestion(): string {
    return ERRORS[this.code].suggestion;
  }
}

export function isHangarError(err: unknown): err is HangarError {
  return err instanceof HangarError;
}
