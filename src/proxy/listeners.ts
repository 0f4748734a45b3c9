/**
 * The one owner of the proxy's listening sockets (STYLE.md habit 2): `reconcile(specs)` opens
 * what the new table needs and closes what it no longer does, one reconcile at a time, with no
 * restart. A port that cannot be opened is reported, not fatal: the rest keep serving.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ListenerSpec } from '../core/proxy/types.js';

interface Open {
  spec: ListenerSpec;
  server: Server;
  sockets: Set<Socket>;
}

function specKey(s: ListenerSpec): string {
  return `${s.addr}|${s.kind}|${s.publicPort}|${s.proto}|${s.tls === true ? 'tls' : ''}`;
}

/** Splits `host:port` / `[v6]:port`. */
export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host || '127.0.0.1', port: Number(addr.slice(i + 1)) };
}

export class ListenerManager {
  private readonly open = new Map<string, Open>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly onConnection: (sock: Socket, spec: ListenerSpec) => void,
    private readonly onError: (err: Error, spec: ListenerSpec) => void,
  ) {}

  /** The bound address of each open listener (port 0 specs resolve to their real port). */
  addresses(): { spec: ListenerSpec; host: string; port: number }[] {
    const out: { spec: ListenerSpec; host: string; port: number }[] = [];
    for (const o of this.open.values()) {
      const a = o.server.address();
      if (a && typeof a === 'object') out.push({ spec: o.spec, host: a.address, port: a.port });
    }
    return out;
  }

  /** Makes the open listeners match `specs`; resolves when done (serialized with earlier calls). */
  reconcile(specs: readonly ListenerSpec[]): Promise<void> {
    this.chain = this.chain.then(() => this.apply(specs));
    return this.chain;
  }

  private async apply(specs: readonly ListenerSpec[]): Promise<void> {
    const want = new Map(specs.map((s) => [specKey(s), s]));
    const closing: Promise<void>[] = [];
    for (const [key, o] of this.open) {
      if (want.has(key)) continue;
      this.open.delete(key);
      closing.push(new Promise((resolve) => o.server.close(() => resolve())));
    }
    await Promise.all(closing);
    await Promise.all(
      [...want].filter(([key]) => !this.open.has(key)).map(([key, spec]) => this.listen(key, spec)),
    );
  }

  private listen(key: string, spec: ListenerSpec): Promise<void> {
    const sockets = new Set<Socket>();
    const server = createServer({ noDelay: true }, (sock) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      this.onConnection(sock, spec);
    });
    const { host, port } = splitAddr(spec.addr);
    return new Promise((resolve) => {
      server.once('error', (err) => {
        this.onError(err, spec);
        resolve();
      });
      server.listen({ host, port, backlog: 1024 }, () => {
        this.open.set(key, { spec, server, sockets });
        resolve();
      });
    });
  }

  /** Closes every listener and every connection they accepted. */
  async close(): Promise<void> {
    await this.chain;
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(
      all.map(
        (o) =>
          new Promise<void>((resolve) => {
            o.server.close(() => resolve());
            for (const s of o.sockets) s.destroy();
          }),
      ),
    );
  }
}
