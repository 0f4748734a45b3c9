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
  HANGAR_ERR_NO_TOKEN: {
    http: 401,
    user: true,
    suggestion:
      'Log in with `hangar auth login --token <token>` (a new `hangar server` writes its admin token to <data-dir>/admin-token), or set HANGAR_API_TOKEN.',
  },
  HANGAR_ERR_API_UNREACHABLE: {
    http: 503,
    user: false,
    suggestion: 'Start the server with `hangar server`, or point HANGAR_API_URL (or `api_url` in ~/.hangar/config.json) at a running one.',
  },
  HANGAR_ERR_API_UNAUTHORIZED: {
    http: 401,
    user: true,
    suggestion: 'The server rejected the token: log in again with `hangar auth login --token <token>`.',
  },
  HANGAR_ERR_API_FORBIDDEN: {
    http: 403,
    user: true,
    suggestion: "The token's role does not allow this: use an org token, or a deploy token for changes (`hangar tokens create deploy`).",
  },
  HANGAR_ERR_API_NOT_FOUND: {
    http: 404,
    user: true,
    suggestion: 'Check the name or id: `hangar apps list`, `hangar machine list -a <app>` and `hangar volumes list -a <app>` show what exists.',
  },
  HANGAR_ERR_API_TIMEOUT: {
    http: 504,
    user: false,
    suggestion: 'The machine did not reach the state in time: check it with `hangar machine status <id>` and `hangar logs`.',
  },
  HANGAR_ERR_API_CONFLICT: {
    http: 409,
    user: true,
    suggestion: 'Another client holds a lease on the machine: wait for it to finish, or clear it with `hangar machine leases clear <id>`.',
  },
  HANGAR_ERR_API_INVALID: {
    http: 422,
    user: true,
    suggestion: 'Fix the request as the message says; run the command with --help to see its flags.',
  },
  HANGAR_ERR_API_SERVER: {
    http: 500,
    user: false,
    suggestion: "The Hangar server failed: look at the server's log, and run again with --debug.",
  },
  HANGAR_ERR_API_RESPONSE: {
    http: 502,
    user: false,
    suggestion: 'The server answered with something that is not Hangar API JSON: check HANGAR_API_URL points at a Hangar server.',
  },
  HANGAR_ERR_IMAGE_REF: {
    http: 400,
    user: true,
    suggestion: 'Write the image like Docker does: `name[:tag]`, `host[:port]/path/name[:tag]` or `...@sha256:<64 hex>`.',
  },
  HANGAR_ERR_IMAGE_NOT_FOUND: {
    http: 404,
    user: true,
    suggestion: 'Check the image name and tag; `hangar image list` shows the images on this host.',
  },
  HANGAR_ERR_IMAGE_AUTH: {
    http: 401,
    user: true,
    suggestion: 'The registry refused the credentials or issued no token: check the registry username and password.',
  },
  HANGAR_ERR_IMAGE_PULL: {
    http: 502,
    user: false,
    suggestion: 'The registry could not be reached or answered badly: check it is up and reachable from this host, then retry.',
  },
  HANGAR_ERR_IMAGE_PLATFORM: {
    http: 422,
    user: true,
    suggestion: 'The image has no variant for this host\'s platform (linux/amd64): build or push one for it.',
  },
  HANGAR_ERR_IMAGE_DIGEST: {
    http: 502,
    user: false,
    suggestion: 'Content did not match its digest (corrupted or tampered with); nothing was stored. Retry, and check the registry or archive.',
  },
  HANGAR_ERR_IMAGE_ARCHIVE: {
    http: 422,
    user: true,
    suggestion: 'Give an OCI image layout tar or a `docker save` tar (gzip-compressed is fine).',
  },
  HANGAR_ERR_IMAGE_UNPACK: {
    http: 422,
    user: true,
    suggestion: 'A layer of the image could not be unpacked safely; rebuild the image with a standard builder.',
  },
  HANGAR_ERR_IMAGE_STORE: {
    http: 500,
    user: false,
    suggestion: 'The image store under the data dir is damaged: remove <data-dir>/images/index.json and pull or import the images again.',
  },
  HANGAR_ERR_6PN_INVALID: {
    http: 500,
    user: false,
    suggestion: 'A 6PN address or prefix in the state is malformed; this is a bug in Hangar: report it with --debug output.',
  },
  HANGAR_ERR_6PN_EXHAUSTED: {
    http: 503,
    user: false,
    suggestion: 'The private network has no free addresses left here: destroy unused machines, or place them on another host or network.',
  },
  HANGAR_ERR_DNS_UNREACHABLE: {
    http: 502,
    user: false,
    suggestion: 'Check `hangar server` is running (it serves .internal DNS), or point --server / HANGAR_DNS_ADDR at the resolver.',
  },
  HANGAR_ERR_DNS_THREAD: {
    http: 500,
    user: false,
    suggestion: 'The .internal resolver\'s thread stopped (the message says why); restart `hangar server`, and report it with --debug output.',
  },
  HANGAR_ERR_API_BAD_REQUEST: {
    http: 400,
    user: true,
    suggestion: 'Fix the request as the message says (reference: the Fly Machines API).',
  },
  HANGAR_ERR_API_WAIT_TIMEOUT: {
    http: 408,
    user: true,
    suggestion: 'The machine did not reach the state in time; wait again, or look at its events and logs.',
  },
  HANGAR_ERR_API_LEASE_CONFLICT: {
    http: 409,
    user: true,
    suggestion: 'Another client holds a lease on the machine: send its nonce in fly-machine-lease-nonce, or wait for the lease to expire.',
  },
  HANGAR_ERR_API_PRECONDITION: {
    http: 412,
    user: true,
    suggestion: 'The machine is not in a state that allows this; check its state and retry.',
    flyStatus: 'failed_precondition',
  },
  HANGAR_ERR_API_NO_CAPACITY: {
    http: 412,
    user: true,
    suggestion: 'No host in that region can take the machine: try another region.',
    flyStatus: 'insufficient_capacity',
  },
  HANGAR_ERR_API_NAME_TAKEN: {
    http: 422,
    user: true,
    suggestion: 'Choose another name.',
    flyStatus: 'name_taken',
  },
  HANGAR_ERR_API_VALIDATION: {
    http: 422,
    user: true,
    suggestion: 'Fix the field the message names.',
  },
  HANGAR_ERR_API_AGENT_UNAVAILABLE: {
    http: 503,
    user: false,
    suggestion: 'The host agent that runs the machine is not answering: check the host is up.',
  },
  HANGAR_ERR_DRIVER_CLEANUP: {
    http: 500,
    user: false,
    suggestion: 'Some of what the driver created for the machine could not be removed; the message lists it. Remove it by hand once nothing uses it.',
  },
  HANGAR_ERR_NET_INVALID: {
    http: 500,
    user: false,
    suggestion: 'A network spec was malformed; this is a bug in Hangar: report it with --debug output.',
  },
  HANGAR_ERR_NET_COMMAND: {
    http: 503,
    user: false,
    suggestion: 'An `ip` or `nft` command failed at the step named; check iproute2 and nftables are installed and Hangar runs as root.',
  },
  HANGAR_ERR_NET_NETNS_MISSING: {
    http: 500,
    user: false,
    suggestion: "The machine's network namespace is gone; restart the machine to recreate it.",
  },
  HANGAR_ERR_NET_NOT_OWNED: {
    http: 409,
    user: true,
    suggestion: 'A link, namespace or table with a Hangar name exists but Hangar did not make it; rename or remove it yourself.',
  },
  HANGAR_ERR_PROXY_LISTEN: {
    http: 503,
    user: false,
    suggestion: 'The proxy could not listen on an address (taken, or not allowed): pick others with --http-addr, --https-addr or the port map.',
  },
  HANGAR_ERR_PROXY_BAD_REQUEST: {
    http: 400,
    user: true,
    suggestion: 'The client sent a malformed HTTP request; the proxy answered 400 and closed the connection.',
  },
  HANGAR_ERR_PROXY_REPLAY_INVALID: {
    http: 502,
    user: false,
    suggestion: "The app answered with a fly-replay the proxy cannot act on; the proxy answered 502 with the problem named. Fix the app's fly-replay header or JSON body (docs: networking/dynamic-request-routing).",
  },
  HANGAR_ERR_CERT_CA: {
    http: 500,
    user: false,
    suggestion: 'Check that the data dir is writable by the user running Hangar, or pass another with --data-dir.',
  },
  HANGAR_ERR_CERT_NAME: {
    http: 400,
    user: true,
    suggestion: 'Use a DNS host name (letters, digits, hyphens, dots) or a *.domain wildcard.',
  },
  HANGAR_ERR_PROXY_AUTOSTART: {
    http: 503,
    user: false,
    suggestion: "The machine a request was held for could not be started; its events and logs say why (`hangar machine status <id>`).",
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
  /** A suggestion for this occurrence (e.g. naming the app that was not found), else the code's. */
  private readonly ownSuggestion: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: readonly string[]; suggestion?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HangarError';
    this.code = code;
    this.details = options.details ?? [];
    this.ownSuggestion = options.suggestion;
  }

  get spec(): ErrorSpec {
    return ERRORS[this.code];
  }

  get suggestion(): string {
    return this.ownSuggestion ?? ERRORS[this.code].suggestion;
  }
}

export function isHangarError(err: unknown): err is HangarError {
  return err instanceof HangarError;
}
