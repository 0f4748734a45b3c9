/**
 * The proxy's counters and their Prometheus text exposition (served on the server's `/metrics`).
 *
 * The hot path only bumps numbers in an object found through a WeakMap on the `Backend` (no
 * label strings built per request); `register()` hands them to prom-client collectors that read
 * them at scrape time, so prom-client does the exposition without costing the hot path.
 */
import type { Backend, LoadMap, Route } from '../core/proxy/types.js';
import type { MetricsSink } from './context.js';
import { Counter, Gauge, Histogram, type MetricType, type MetricObjectWithValues, type MetricValueWithName, Registry } from 'prom-client';

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

interface RouteHistogram {
  readonly app: string;
  readonly port: number;
  readonly counts: number[];
  sum: number;
  count: number;
}

/** The proxy's metrics: `MetricsSink` for the handlers, `autostarted`/`autostopped` for the loops. */
export class ProxyMetrics implements MetricsSink {
  private readonly byBackend = new WeakMap<Backend, Series>();
  private readonly series = new Map<string, Series>();
  private readonly hists = new Map<string, RouteHistogram>();
  private readonly histByRoute = new WeakMap<Route, RouteHistogram>();
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
    let h: RouteHistogram | undefined = this.histByRoute.get(route);
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

  /** The exposition of these metrics alone (tests, `hangar proxy` without a shared registry). */
  render(load: LoadMap): Promise<string> {
    const registry = new Registry();
    this.register(registry, load);
    return registry.metrics();
  }

  /**
   * Registers the proxy's metrics on a prom-client registry. The collectors copy the hot path's
   * plain numbers at scrape time (a prom-client `inc`/`observe` per request costs ~0.3 µs each,
   * a few per cent of a proxied request), and prom-client does the exposition.
   */
  register(registry: Registry, load: LoadMap): void {
    // the collectors' `this` is the prom-client metric: the maps are captured instead
    const { series, answers, connections, hists, statics } = this;
    const machineLabels = ['app', 'port', 'machine'] as const;
    const lbl = (s: Series) => ({ app: s.app, port: String(s.port), machine: s.machine });
    const counter = (name: string, help: string, labelNames: readonly string[], fill: (c: Counter) => void): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          fill(this);
        },
      });
    };
    counter('hangar_proxy_requests_total', 'HTTP requests forwarded to a machine, by response status.', [...machineLabels, 'status'], (c) => {
      for (const s of series.values()) for (const [code, n] of s.codes) c.inc({ ...lbl(s), status: String(code) }, n);
    });
    counter('hangar_proxy_answers_total', 'Responses the proxy wrote itself (no machine, unknown host, ...).', ['app', 'status'], (c) => {
      for (const [key, n] of answers) {
        const [app, status] = key.split('\0');
        c.inc({ app: app ?? '', status: status ?? '' }, n);
      }
    });
    counter('hangar_proxy_static_responses_total', '[[statics]] responses the proxy served from the image, by status.', ['app', 'port', 'status'], (c) => {
      for (const [key, [n]] of statics) {
        const [app, port, status] = key.split('\0');
        c.inc({ app: app ?? '', port: port ?? '', status: status ?? '' }, n);
      }
    });
    counter('hangar_proxy_static_bytes_out_total', 'Body bytes of [[statics]] responses.', ['app', 'port'], (c) => {
      for (const [key, [, b]] of statics) {
        const [app, port] = key.split('\0');
        c.inc({ app: app ?? '', port: port ?? '' }, b);
      }
    });
    counter('hangar_proxy_tcp_connections_total', 'TCP connections spliced to a machine.', machineLabels, (c) => {
      for (const s of series.values()) if (s.tcpConnections > 0) c.inc(lbl(s), s.tcpConnections);
    });
    counter('hangar_proxy_bytes_in_total', 'Bytes from clients forwarded to a machine.', machineLabels, (c) => {
      for (const s of series.values()) if (s.loadKey) c.inc(lbl(s), s.bytesIn);
    });
    counter('hangar_proxy_bytes_out_total', 'Bytes from a machine forwarded to clients.', machineLabels, (c) => {
      for (const s of series.values()) if (s.loadKey) c.inc(lbl(s), s.bytesOut);
    });
    counter('hangar_proxy_autostarts_total', 'Machines the proxy started for held requests.', ['app', 'machine'], (c) => {
      for (const s of series.values()) if (s.autostarts > 0) c.inc({ app: s.app, machine: s.machine }, s.autostarts);
    });
    counter('hangar_proxy_autostops_total', 'Machines the autostop loop stopped or suspended.', ['app', 'machine'], (c) => {
      for (const s of series.values()) if (s.autostops > 0) c.inc({ app: s.app, machine: s.machine }, s.autostops);
    });
    new Gauge({
      name: 'hangar_proxy_load',
      help: 'Current load per machine (requests or connections, as the service counts).',
      labelNames: machineLabels,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of series.values()) if (s.loadKey) this.set(lbl(s), load.get(s.loadKey) ?? 0);
      },
    });
    new Gauge({
      name: 'hangar_proxy_client_connections',
      help: 'Open client connections per public port.',
      labelNames: ['port'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [port, n] of connections) this.set({ port: String(port) }, n);
      },
    });
    registry.registerMetric(new BucketsHistogram('hangar_proxy_request_duration_seconds', 'Time from a request head to the end of its response.', () => hists.values()));
  }
}

/** prom-client declares `MetricType` as a TypeScript enum but does not export it at run time. */
const HISTOGRAM = 'histogram' as unknown as MetricType;

/**
 * A histogram whose buckets are counted elsewhere (on the proxy's hot path) and handed to
 * prom-client as they are at scrape time; prom-client has no public setter for bucket counts, so
 * this overrides the read side only.
 */
class BucketsHistogram extends Histogram {
  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    private readonly source: () => Iterable<RouteHistogram>,
  ) {
    super({ name: metricName, help: helpText, labelNames: ['app', 'port'], buckets: [...LATENCY_BUCKETS], registers: [] });
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const h of this.source()) {
      const labels = { app: h.app, port: String(h.port) };
      let cum = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cum += h.counts[i]!;
        values.push({ labels: { ...labels, le }, value: cum, metricName: `${this.metricName}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${this.metricName}_bucket` });
      values.push({ labels, value: h.sum, metricName: `${this.metricName}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.metricName}_count` });
    }
    return Promise.resolve({ name: this.metricName, help: this.helpText, type: HISTOGRAM, values, aggregator: 'sum', collect: () => undefined });
  }

  /** prom-client's registry prefers this one when present. */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.get();
  }
}

