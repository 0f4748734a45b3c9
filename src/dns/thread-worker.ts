/**
 * The worker side of {@link ThreadedDnsServer} (thread.ts): one DnsServer on its own thread,
 * building its zone from the plain ZoneInput it is posted, and answering the requests of the
 * main thread (listen, unlisten, sync, close) by id. Not imported by anything but the Worker.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { buildZone } from '../core/dns/zone.js';
import { DnsServer, type DnsServerOptions } from './server.js';
import type { ThreadRequest, ThreadReply, ThreadEvent } from './thread.js';

if (!parentPort) throw new Error('thread-worker.ts runs only as a worker thread (src/dns/thread.ts)');
const port: MessagePort = parentPort;

const post = (m: ThreadReply | ThreadEvent): void => port.postMessage(m);
const opts = workerData as Omit<DnsServerOptions, 'onError'>;
const server = new DnsServer({ ...opts, onError: (err, where) => post({ type: 'error', where, message: err.message }) });

let gc = { gcCount: 0, gcMs: 0, gcMaxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gc = { gcCount: gc.gcCount + 1, gcMs: gc.gcMs + e.duration, gcMaxMs: Math.max(gc.gcMaxMs, e.duration) };
}).observe({ entryTypes: ['gc'] });

port.on('message', (m: ThreadRequest) => {
  void handle(m).then(
    (value) => post({ type: 'reply', id: m.id, ok: true, value }),
    (err: unknown) => post({ type: 'reply', id: m.id, ok: false, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code }),
  );
});

async function handle(m: ThreadRequest): Promise<unknown> {
  switch (m.op) {
    case 'zone':
      // Built here: the 10,000-machine zone takes ~200 ms, which no longer stalls the main thread.
      server.setZone(buildZone(m.input));
      return undefined;
    case 'listen':
      return server.listen(m.spec);
    case 'unlisten':
      return server.unlisten(m.host, m.port);
    case 'stats': {
      const out = gc;
      gc = { gcCount: 0, gcMs: 0, gcMaxMs: 0 };
      return out;
    }
    case 'close':
      await server.close();
      port.close();
      return undefined;
  }
}
