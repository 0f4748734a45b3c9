// Helpers for the real networking tests: argv-only process runs, netns, tiny TCP peers.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Why real tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (process.platform !== 'linux') return '6PN host networking needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (creates bridges, veths, netns and an nftables table)';
  return undefined;
}

/** Runs argv[0] with the rest as arguments; never throws on a non-zero exit. */
export function run(argv: readonly string[], input = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (file === undefined) return reject(new Error('empty argv'));
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a command that never reads stdin
    child.stdin.end(input);
  });
}

/** A 14-hex machine id, Fly's shape. */
export function machineId(): string {
  return randomBytes(7).toString('hex');
}

/** Network numbers for one test file: high, pid-derived, so parallel files never share one. */
export function testNetworks(slot: number): number {
  return 0xfff0_0000 + (process.pid % 0x8000) * 16 + slot;
}

/** Starts a TCP server inside `netns` on [::]:port that answers `pong <tag>`; resolves when listening. */
export function startServerIn(netns: string, port: number, tag: string): Promise<ChildProcess> {
  const js = `require('net').createServer((s) => s.end('pong ${tag}')).listen(${port}, '::', () => console.log('ready'))`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', js], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) resolve(child);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`server in ${netns} exited ${code}: ${err}`)));
  });
}

/**
 * Connects from inside `netns` to [address]:port and returns what it read, or `error <code>`.
 * The 2 s idle limit only bounds a dropped connection attempt; no test asserts on timing.
 */
export async function tcpFrom(netns: string, address: string, port: number): Promise<string> {
  const js = [
    `const s = require('net').connect(${port}, ${JSON.stringify(address)});`,
    `let got = ''; s.setTimeout(2000, () => { console.log('error TIMEOUT'); process.exit(0); });`,
    `s.on('data', (d) => (got += d)); s.on('end', () => { console.log(got); process.exit(0); });`,
    `s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); });`,
  ].join(' ');
  const r = await run(['ip', 'netns', 'exec', netns, process.execPath, '-e', js]);
  return r.stdout.trim() || `error exit ${r.code}: ${r.stderr.trim()}`;
}

/** Names of the host's links. */
export async function linkNames(): Promise<string[]> {
  const r = await run(['ip', '-j', 'link', 'show']);
  return (JSON.parse(r.stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}
