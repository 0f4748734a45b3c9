/**
 * The one edge of src/net that runs processes: `ip -batch -`, `ip -n <netns> -batch -` and
 * `nft -f -`, always as argv arrays with the batch or ruleset on stdin (STYLE.md habit 8), plus
 * the read-only queries plans need (`ip -j -d link show`, `nft -j list tables`).
 *
 * {@link NetRunner} does not order calls itself; {@link Serial} is the queue the owner
 * (machine.ts `HostNetwork`) puts every multi-step change through, so two machines starting at
 * once cannot interleave "bridge missing → create bridge" or re-render the nftables table from a
 * stale view (STYLE.md habit 2).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { NetError } from './errors.js';
import { failedStep, NETNS_DIR, renderBatch, type IpBatch, type ObservedLink } from './plan.js';

/** Output of a finished process. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Paths of the tools; tests point them at missing files to exercise the failure paths. */
export interface NetRunnerOptions {
  readonly ip?: string;
  readonly nft?: string;
}

/** Runs `file` with `args`, writes `input` to its stdin, collects its output. Never a shell. */
export function runProcess(file: string, args: readonly string[], input: string, step: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) =>
      reject(new NetError('HANGAR_ERR_NET_COMMAND', `${step}: cannot run ${file}: ${err.message}`, { step, cause: err })),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A child that exits before reading stdin gives EPIPE; its exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

function firstLine(text: string): string {
  return text.trim().split('\n').filter((l) => l.length > 0).slice(0, 3).join(' / ');
}

/** Runs `ip` and `nft` for src/net. */
export class NetRunner {
  readonly ipPath: string;
  readonly nftPath: string;

  constructor(options: NetRunnerOptions = {}) {
    this.ipPath = options.ip ?? 'ip';
    this.nftPath = options.nft ?? 'nft';
  }

  /**
   * Runs a batch in one `ip` process. `ip -batch` stops at the first failing line and names it
   * (`Command failed -:N`); the error carries that line's step.
   * @throws NetError `HANGAR_ERR_NET_COMMAND`
   */
  async ipBatch(batch: IpBatch): Promise<void> {
    if (batch.commands.length === 0) return;
    const args = batch.netns === undefined ? ['-batch', '-'] : ['-n', batch.netns, '-batch', '-'];
    const first = batch.commands[0]?.step ?? 'ip batch';
    const ran = await runProcess(this.ipPath, args, renderBatch(batch), first);
    if (ran.code === 0) return;
    const failed = failedStep(batch, ran.stderr);
    const step = failed?.step ?? (batch.netns === undefined ? first : `enter netns ${batch.netns}`);
    const what = failed ? `ip ${failed.args.join(' ')}` : `ip ${args.join(' ')}`;
    throw new NetError('HANGAR_ERR_NET_COMMAND', `${step}: ${what} failed: ${firstLine(ran.stderr) || `exit ${ran.code}`}`, { step });
  }

  /**
   * Applies an nftables script atomically (`nft -f -`).
   * @throws NetError `HANGAR_ERR_NET_COMMAND`
   */
  async nft(script: string, step: string): Promise<void> {
    const ran = await runProcess(this.nftPath, ['-f', '-'], script, step);
    if (ran.code !== 0) {
      throw new NetError('HANGAR_ERR_NET_COMMAND', `${step}: nft -f - failed: ${firstLine(ran.stderr) || `exit ${ran.code}`}`, { step });
    }
  }

  /** Links of the host namespace, or of `netns`, with kind and alias. */
  async links(netns?: string): Promise<ObservedLink[]> {
    const args = [...(netns === undefined ? [] : ['-n', netns]), '-j', '-d', 'link', 'show'];
    const step = netns === undefined ? 'list links' : `list links in netns ${netns}`;
    const ran = await runProcess(this.ipPath, args, '', step);
    if (ran.code !== 0) throw new NetError('HANGAR_ERR_NET_COMMAND', `${step}: ip ${args.join(' ')} failed: ${firstLine(ran.stderr)}`, { step });
    return parseLinks(ran.stdout);
  }

  /**
   * The owned-or-not state of one link of the host namespace; undefined when it does not exist.
   * Asks for that one device, not the whole (with many machines, long) link list.
   */
  async link(name: string): Promise<ObservedLink | undefined> {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new NetError('HANGAR_ERR_NET_INVALID', `invalid interface name ${JSON.stringify(name)}`, { step: `find link ${name}` });
    const args = ['-j', '-d', 'link', 'show', 'dev', name];
    const ran = await runProcess(this.ipPath, args, '', `find link ${name}`);
    // `ip` says "Device ... does not exist." (exit 1) for a missing device.
    if (ran.code !== 0) {
      if (/does not exist/i.test(ran.stderr)) return undefined;
      throw new NetError('HANGAR_ERR_NET_COMMAND', `find link ${name}: ip ${args.join(' ')} failed: ${firstLine(ran.stderr)}`, { step: `find link ${name}` });
    }
    return parseLinks(ran.stdout).find((l) => l.name === name);
  }

  /** An `ip -batch -` process (in `netns` when given) that waits for its one batch: {@link WaitingBatch}. */
  waitingBatch(netns?: string): WaitingBatch {
    return new WaitingBatch(this.ipPath, netns);
  }

  /** Names of the named network namespaces (entries of /run/netns). */
  async netnsNames(): Promise<string[]> {
    try {
      return (await readdir(NETNS_DIR)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new NetError('HANGAR_ERR_NET_COMMAND', `list netns: cannot read ${NETNS_DIR}: ${(err as Error).message}`, { step: 'list netns', cause: err });
    }
  }

  /** Names of the `inet` tables in nftables. */
  async inetTables(): Promise<string[]> {
    const ran = await runProcess(this.nftPath, ['-j', 'list', 'tables', 'inet'], '', 'list nftables tables');
    if (ran.code !== 0) throw new NetError('HANGAR_ERR_NET_COMMAND', `list nftables tables: nft failed: ${firstLine(ran.stderr)}`, { step: 'list nftables tables' });
    const doc = JSON.parse(ran.stdout) as { nftables?: Array<{ table?: { family?: string; name?: string } }> };
    return (doc.nftables ?? []).flatMap((e) => (e.table?.family === 'inet' && e.table.name ? [e.table.name] : []));
  }
}

/**
 * An `ip -batch -` process started ahead of need (pool.ts), waiting on stdin for its commands:
 * `run` hands it a batch and waits for it to exit, so the fork of the large agent process is
 * paid off the start path. The process must not hold the event loop while it waits.
 */
export class WaitingBatch {
  private readonly child: ChildProcess;
  private readonly done: Promise<Ran>;
  private exited = false;

  constructor(
    private readonly ipPath: string,
    readonly netns: string | undefined,
  ) {
    const args = netns === undefined ? ['-batch', '-'] : ['-n', netns, '-batch', '-'];
    this.child = spawn(ipPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    this.child.stdin?.on('error', () => undefined);
    this.done = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.exited = true;
        resolve({ code: -1, stdout: '', stderr: err.message });
      });
      this.child.on('close', (code) => {
        this.exited = true;
        resolve({ code, stdout: '', stderr });
      });
    });
    this.setRef(false);
  }

  /** Whether it still waits for its batch (a killed or failed process cannot take one). */
  get waiting(): boolean {
    return !this.exited && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Runs `batch` in the waiting process (once). Errors as {@link NetRunner.ipBatch}.
   * @throws NetError `HANGAR_ERR_NET_COMMAND`
   */
  async run(batch: IpBatch): Promise<void> {
    if (batch.netns !== this.netns) throw new NetError('HANGAR_ERR_NET_INVALID', `a batch for netns ${batch.netns ?? '(host)'} cannot run in a process waiting in ${this.netns ?? '(host)'}`);
    const text = renderBatch(batch);
    this.setRef(true);
    this.child.stdin?.end(text);
    const ran = await this.done;
    const first = batch.commands[0]?.step ?? 'ip batch';
    if (ran.code === 0) return;
    const failed = failedStep(batch, ran.stderr);
    const step = failed?.step ?? (batch.netns === undefined ? first : `enter netns ${batch.netns}`);
    const what = failed ? `ip ${failed.args.join(' ')}` : `${this.ipPath} -batch -`;
    throw new NetError('HANGAR_ERR_NET_COMMAND', `${step}: ${what} failed: ${firstLine(ran.stderr) || `exit ${ran.code}`}`, { step });
  }

  /** Ends the process without running anything (EOF on stdin makes `ip -batch` exit 0). */
  async cancel(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.done;
    clearTimeout(timer);
  }

  private setRef(on: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void } | null>;
    for (const h of handles) (on ? h?.ref : h?.unref)?.call(h);
  }
}

/** Parses `ip -j -d link show` output. */
export function parseLinks(json: string): ObservedLink[] {
  const rows = JSON.parse(json.trim() === '' ? '[]' : json) as Array<{ ifname?: string; ifalias?: string; master?: string; linkinfo?: { info_kind?: string } }>;
  return rows.flatMap((r) => (r.ifname ? [{ name: r.ifname, kind: r.linkinfo?.info_kind, alias: r.ifalias, master: r.master }] : []));
}

/** A FIFO of async jobs: each starts after the previous one settled (fulfilled or not). */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
