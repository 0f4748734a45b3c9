/**
 * The proxy's counters and their Prometheus text exposition (served on the server's `/metrics`).
 *
 * The hot path only bumps numbers in an object found through a WeakMap on the `Backend` (no
 * label strings built per request); label strings are built at scrape time. The exposition is a
 * small formatter of the Prometheus text format 0.0.4, kept behind `render()` so it can move to
 * `prom-client` collectors without touching the call sites.
 */
import type { Backend, LoadMap, Route } from '../core/proxy/types.js';
import type { MetricsSink } from './context.js';

/** Latency buckets in seconds (a proxy hop on loopback is sub-millisecond; apps are slower). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

interface Series {
  readonly app: string;
  readonly port: number;
  readonly machine: string;
  readonly loadKey: string;
  readonly codes: Map<number, number>;
  bytesIn: number;
  bytesOut: number;
  tcpConnections: number;
  autostarts: number;
  autostops: number;
}

interface Histogram {
  readonly app: string;
  readonly port: number;
  readonly counts: number[];
  sum: number;
  count: number;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The proxy's metrics: `MetricsSink` for the handlers, `autostarted`/`autostopped` for the loops. */
export class ProxyMetrics implements MetricsSink {
  private readonly byBackend = new WeakMap<Backend, Series>();
  private readonly series = new Map<string, Series>();
  private readonly hists = new Map<string, Histogram>();
  private readonly histByRoute = new WeakMap<Route, Histogram>();
  private readonly answers = new Map<string, number>();
  private readonly connections = new Map<number, number>();
  /** `app\0port\0status` → [responses, bytes out] of statics served by the proxy. */
  private readonly statics = new Map<string, [number, number]>();

  private seriesOf(app: string, port: number, machine: string, loadKey: string): Series {
    const key = `${app}\0${port}\0${machine}`;
    let s = this.series.get(key);
    if (!s) {
      s = { app, port, machine, loadKey, codes: new Map(), bytesIn: 0, bytesOut: 0, tcpConnections: 0, autostarts: 0, autostops: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  private forBackend(route: Route, b: Backend): Series {
    let s = this.byBackend.get(b);
    if (!s) {
      s = this.seriesOf(route.app, route.publicPort, b.machineId, b.key);
      this.byBackend.set(b, s);
    }
    return s;
  }

  request(route: Route, backend: Backend, status: number, ms: number, bytesIn: number, bytesOut: number): void {
    const s = this.forBackend(route, backend);
    s.codes.set(status, (s.codes.get(status) ?? 0) + 1);
    s.bytesIn += bytesIn;
    s.bytesOut += bytesOut;
    this.observe(route, ms);
  }

  /** Statics are off the hot path of forwarded requests: a keyed map is enough. */
  staticServed(route: Route, status: number, ms: number, bytesOut: number): void {
    const key = `${route.app}\0${route.publicPort}\0${status}`;
    const c = this.statics.get(key);
    if (c) {
      c[0] += 1;
      c[1] += bytesOut;
    } else this.statics.set(key, [1, bytesOut]);
    this.observe(route, ms);
  }

  /** The request duration histogram of a route. */
  private observe(route: Route, ms: number): void {
    let h = this.histByRoute.get(route);
    if (!h) {
      const key = `${route.app}\0${route.publicPort}`;
      h = this.hists.get(key);
      if (!h) this.hists.set(key, (h = { app: route.app, port: route.publicPort, counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }));
      this.histByRoute.set(route, h);
    }
    const sec = ms / 1000;
    h.sum += sec;
    h.count += 1;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (sec <= LATENCY_BUCKETS[i]!) {
        h.counts[i]! += 1;
        break;
      }
    }
  }

  answered(app: string | undefined, status: number): void {
    const key = `${app ?? ''}\0${status}`;
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  connectionOpened(publicPort: number): void {
    this.connections.set(publicPort, (this.connections.get(publicPort) ?? 0) + 1);
  }

  connectionClosed(publicPort: number): void {
    this.connections.set(publicPort, (this.connections.get(publicPort) ?? 1) - 1);
  }

  tcpDone(route: Route, backend: Backend, bytesIn: number, bytesOut: number): void {
    const s = this.forBackend(route, backend);
    s.tcpConnections += 1;
    s.bytesIn += bytesIn;
    s.bytesOut += bytesOut;
  }

  /** The proxy started a machine of `app` for a held request. */
  autostarted(app: string, publicPort: number, machineId: string): void {
    this.seriesOf(app, publicPort, machineId, '').autostarts += 1;
  }

  /** The autostop loop stopped or suspended a machine. */
  autostopped(app: string, machineId: string): void {
    this.seriesOf(app, 0, machineId, '').autostops += 1;
  }

  /** Total autostarts so far (tests, logs). */
  autostartCount(app?: string): number {
    let n = 0;
    for (const s of this.series.values()) if (app === undefined || s.app === app) n += s.autostarts;
    return n;
  }

  /** Prometheus text format; `load` adds the current load gauge per machine. */
  render(load: LoadMap): string {
    const out: string[] = [];
    const lbl = (s: { app: string; port: number; machine: string }) => `app="${esc(s.app)}",port="${s.port}",machine="${esc(s.machine)}"`;
    const all = [...this.series.values()];
    out.push('# HELP hangar_proxy_requests_total HTTP requests forwarded to a machine, by response status.', '# TYPE hangar_proxy_requests_total counter');
    for (const s of all) for (const [code, n] of s.codes) out.push(`hangar_proxy_requests_total{${lbl(s)},status="${code}"} ${n}`);
    out.push('# HELP hangar_proxy_answers_total Responses the proxy wrote itself (no machine, unknown host, ...).', '# TYPE hangar_proxy_answers_total counter');
    for (const [key, n] of this.answers) {
      const [app, status] = key.split('\0');
      out.push(`hangar_proxy_answers_total{app="${esc(app ?? '')}",status="${status}"} ${n}`);
    }
    out.push('# HELP hangar_proxy_static_responses_total [[statics]] responses the proxy served from the image, by status.', '# TYPE hangar_proxy_static_responses_total counter');
    for (const [key, [n]] of this.statics) {
      const [app, port, status] = key.split('\0');
      out.push(`hangar_proxy_static_responses_total{app="${esc(app ?? '')}",port="${port}",status="${status}"} ${n}`);
    }
    out.push('# HELP hangar_proxy_static_bytes_out_total Body bytes of [[statics]] responses.', '# TYPE hangar_proxy_static_bytes_out_total counter');
    const bytes = new Map<string, number>();
    for (const [key, [, b]] of this.statics) {
      const k = key.slice(0, key.lastIndexOf('\0'));
      bytes.set(k, (bytes.get(k) ?? 0) + b);
    }
    for (const [key, b] of bytes) {
      const [app, port] = key.split('\0');
      out.push(`hangar_proxy_static_bytes_out_total{app="${esc(app ?? '')}",port="${port}"} ${b}`);
    }
    out.push('# HELP hangar_proxy_tcp_connections_total TCP connections spliced to a machine.', '# TYPE hangar_proxy_tcp_connections_total counter');
    for (const s of all) if (s.tcpConnections > 0) out.push(`hangar_proxy_tcp_connections_total{${lbl(s)}} ${s.tcpConnections}`);
    out.push('# HELP hangar_proxy_bytes_in_total Bytes from clients forwarded to a machine.', '# TYPE hangar_proxy_bytes_in_total counter');
    for (const s of all) if (s.loadKey) out.push(`hangar_proxy_bytes_in_total{${lbl(s)}} ${s.bytesIn}`);
    out.push('# HELP hangar_proxy_bytes_out_total Bytes from a machine forwarded to clients.', '# TYPE hangar_proxy_bytes_out_total counter');
    for (const s of all) if (s.loadKey) out.push(`hangar_proxy_bytes_out_total{${lbl(s)}} ${s.bytesOut}`);
    out.push('# HELP hangar_proxy_load Current load per machine (requests or connections, as the service counts).', '# TYPE hangar_proxy_load gauge');
    for (const s of all) if (s.loadKey) out.push(`hangar_proxy_load{${lbl(s)}} ${load.get(s.loadKey) ?? 0}`);
    out.push('# HELP hangar_proxy_client_connections Open client connections per public port.', '# TYPE hangar_proxy_client_connections gauge');
    for (const [port, n] of this.connections) out.push(`hangar_proxy_client_connections{port="${port}"} ${n}`);
    out.push('# HELP hangar_proxy_autostarts_total Machines the proxy started for held requests.', '# TYPE hangar_proxy_autostarts_total counter');
    for (const s of all) if (s.autostarts > 0) out.push(`hangar_proxy_autostarts_total{app="${esc(s.app)}",machine="${esc(s.machine)}"} ${s.autostarts}`);
    out.push('# HELP hangar_proxy_autostops_total Machines the autostop loop stopped or suspended.', '# TYPE hangar_proxy_autostops_total counter');
    for (const s of all) if (s.autostops > 0) out.push(`hangar_proxy_autostops_total{app="${esc(s.app)}",machine="${esc(s.machine)}"} ${s.autostops}`);
    out.push('# HELP hangar_proxy_request_duration_seconds Time from a request head to the end of its response.', '# TYPE hangar_proxy_request_duration_seconds histogram');
    for (const h of this.hists.values()) {
      const base = `app="${esc(h.app)}",port="${h.port}"`;
      let cum = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cum += h.counts[i]!;
        out.push(`hangar_proxy_request_duration_seconds_bucket{${base},le="${le}"} ${cum}`);
      });
      out.push(`hangar_proxy_request_duration_seconds_bucket{${base},le="+Inf"} ${h.count}`);
      out.push(`hangar_proxy_request_duration_seconds_sum{${base}} ${h.sum}`);
      out.push(`hangar_proxy_request_duration_seconds_count{${base}} ${h.count}`);
    }
    return `${out.join('\n')}\n`;
  }
}
