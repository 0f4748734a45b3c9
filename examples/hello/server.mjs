// The smallest Hangar (and Fly) app: an HTTP server that says which machine answered.
// It listens on $PORT (default 8080) on the machine's private address when it has one
// (FLY_PRIVATE_IP; under Hangar's process driver each machine has its own loopback address),
// else on every interface. It stops cleanly on SIGINT/SIGTERM, as `hangar machine stop` sends.
import { createServer } from 'node:http';

const port = Number(process.env.PORT || 8080);
const host = process.env.FLY_PRIVATE_IP || '0.0.0.0';
const machine = process.env.FLY_MACHINE_ID || 'unknown';
const region = process.env.FLY_REGION || 'unknown';

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`Hello from Hangar machine ${machine} in ${region}\n`);
});

server.listen(port, host, () => {
  console.log(`hello listening on ${host.includes(':') ? `[${host}]` : host}:${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`hello got ${signal}, shutting down`);
    server.close(() => process.exit(0));
    // Keep-alive connections would hold close() open; the platform's stop timeout is the backstop.
    server.closeAllConnections();
  });
}
