/**
 * Host ports for process-driver machines. Host processes share the host's port space, so each
 * machine gets its own `PORT`s (ARCHITECTURE.md "Interfaces": process driver); the routing record
 * tells the proxy where each `internal_port` really listens.
 *
 * A port is proved free by binding it on the machine's address; ports this agent handed out are
 * also remembered, so two machines never get the same number (apps that bind 0.0.0.0 would clash).
 * A machine keeps its ports across restarts while they stay free, so routes do not move.
 */
import { createServer } from 'node:net';

/** Binds `port` (0 = any) on `address`; resolves with the bound port, or undefined when taken. */
function tryBind(address: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ host: address, port, exclusive: true }, () => {
      const addr = server.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

export class PortAllocator {
  /** Host ports handed out, by machine id. */
  private readonly byMachine = new Map<string, Set<number>>();

  /** Ports held by every machine but `machineId`. */
  private taken(machineId: string): Set<number> {
    const out = new Set<number>();
    for (const [id, ports] of this.byMachine) if (id !== machineId) for (const p of ports) out.add(p);
    return out;
  }

  /**
   * Host ports for each internal port, reusing `previous` where still free. Throws when the host
   * has no free port left (after a bounded number of tries).
   */
  async allocate(machineId: string, address: string, internal: readonly number[], previous: Readonly<Record<string, number>> = {}): Promise<Array<[number, number]>> {
    const taken = this.taken(machineId);
    const out: Array<[number, number]> = [];
    const mine = new Set<number>();
    for (const ip of internal) {
      const wanted = previous[String(ip)];
      let port: number | undefined;
      if (wanted !== undefined && !taken.has(wanted) && !mine.has(wanted)) port = await tryBind(address, wanted);
      for (let i = 0; port === undefined && i < 50; i++) {
        const candidate = await tryBind(address, 0);
        if (candidate !== undefined && !taken.has(candidate) && !mine.has(candidate)) port = candidate;
      }
      if (port === undefined) throw new Error(`no free port on ${address} for internal port ${ip}`);
      mine.add(port);
      out.push([ip, port]);
    }
    this.byMachine.set(machineId, mine);
    return out;
  }

  /** Remembers ports a recovered machine already holds. */
  claim(machineId: string, ports: Readonly<Record<string, number>>): void {
    this.byMachine.set(machineId, new Set(Object.values(ports)));
  }

  release(machineId: string): void {
    this.byMachine.delete(machineId);
  }
}

/**
 * The loopback address of a machine on a `loopback` host: `127.77.x.y` derived from the machine
 * id (FNV-1a), probing past addresses in `used`. Any 127/8 address is local on Linux, so every
 * machine can bind its own address without configuration.
 */
export function loopbackAddress(machineId: string, used: ReadonlySet<string>, prefix = '127.77'): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < machineId.length; i++) {
    h ^= machineId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // 254 × 254 usable host parts: neither octet is 0 or 255.
  const space = 254 * 254;
  for (let i = 0; i < space; i++) {
    const n = (h + i) % space;
    const addr = `${prefix}.${Math.floor(n / 254) + 1}.${(n % 254) + 1}`;
    if (!used.has(addr)) return addr;
  }
  throw new Error(`no free address left in ${prefix}.0.0/16`);
}
