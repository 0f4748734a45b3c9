// The README's main command (`npm start`): starts a local Hangar platform and runs examples/hello
// on it, then prints a curl command that gets the machine's answer.
//
//   1. `hangar server` in the background (detached; data dir .hangar-demo/, log .hangar-demo/server.log,
//      API on 127.0.0.1:4280, or a free port when 4280 is taken);
//   2. app `hello`, and one machine running examples/hello/server.mjs with the process driver;
//   3. waits for `started`, fetches the app once through the server's edge proxy (Host routing:
//      `hello.localhost` on 127.0.0.1:8080, the stand-in for port 80), prints the curl command
//      and how to stop. When the proxy cannot answer (port 8080 taken by something else, or an
//      older server without the proxy), it prints the machine's own address instead.
//
// Running it again reuses the server, the app and the machine it finds. Expects `npm run build` first
// (it uses the compiled ApiClient from dist/).
/* global fetch */ // Node 20 global; not in the lint config's globals list
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dataDir = join(root, '.hangar-demo');
const stateFile = join(dataDir, 'start.json');
const logFile = join(dataDir, 'server.log');
const tokenFile = join(dataDir, 'admin-token');
const helloDir = join(root, 'examples', 'hello');
const APP = 'hello';
const INTERNAL_PORT = 8080;
// `hangar server`'s default --http-addr (the proxy's stand-in for public port 80).
const PROXY_ADDR = { host: '127.0.0.1', port: 8080 };

const { ApiClient } = await import(new URL('../dist/src/client/api.js', import.meta.url).href).catch((err) => {
  fail(`cannot load dist/src/client/api.js (${err.message}): run \`npm run build\` first`);
});

function fail(message) {
  console.error(`\nstart: ${message}`);
  process.exit(1);
}

function step(message) {
  console.log(`==> ${message}`);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function anyFreePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function readToken() {
  return existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
}

/** True when a Hangar API answers on `url` and accepts the data dir's admin token. */
async function apiAnswers(url) {
  const token = readToken();
  if (!token) return false;
  try {
    await new ApiClient({ apiUrl: url, token }).whoami();
    return true;
  } catch {
    return false;
  }
}

function logTail() {
  if (!existsSync(logFile)) return '(no log)';
  return readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
}

/** Reuses the server this script started before, if it still runs; else starts one. */
async function ensureServer() {
  const prev = readJson(stateFile);
  if (prev && pidAlive(prev.pid) && (await apiAnswers(prev.url))) {
    step(`Reusing hangar server (pid ${prev.pid}) at ${prev.url}`);
    return prev;
  }
  mkdirSync(dataDir, { recursive: true });
  const port = (await portFree(4280)) ? 4280 : await anyFreePort();
  const url = `http://127.0.0.1:${port}`;
  step(`Starting hangar server at ${url} (data in ${relative(root, dataDir)}/, log in ${relative(root, logFile)})`);
  const log = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'hangar.js'), 'server', '--data-dir', dataDir, '--api-addr', `127.0.0.1:${port}`, '--driver', 'process', '--stop-machines-on-exit'],
    { cwd: root, detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  let exited = null;
  child.once('exit', (code, signal) => (exited = signal ?? code));
  child.unref();
  const state = { pid: child.pid, url, started_at: new Date().toISOString() };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited !== null) fail(`hangar server exited (${exited}) before it answered. Last lines of ${logFile}:\n${logTail()}`);
    if (await apiAnswers(url)) {
      writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
      return state;
    }
    await sleep(200);
  }
  fail(`hangar server did not answer at ${url} within 30 s. Last lines of ${logFile}:\n${logTail()}`);
}

async function ensureApp(client) {
  try {
    await client.getApp(APP);
    step(`Reusing app ${APP}`);
  } catch (err) {
    if (err.clientCode !== 'HANGAR_ERR_API_NOT_FOUND') throw err;
    step(`Creating app ${APP}`);
    await client.createApp({ app_name: APP });
  }
}

/** The machine running examples/hello: reused (and started) when there is one, else created. */
async function ensureMachine(client) {
  const image = `dir:${helloDir}`;
  const machines = await client.listMachines(APP);
  const existing = machines.find((m) => m.config?.image === image && !['destroying', 'destroyed'].includes(m.state));
  if (existing) {
    step(`Reusing machine ${existing.id} (${existing.state})`);
    if (existing.state !== 'started') {
      step(`Starting machine ${existing.id}`);
      await client.startMachine(APP, existing.id);
    }
    await client.waitMachine(APP, existing.id, 'started', { timeoutMs: 60_000 });
    return client.getMachine(APP, existing.id);
  }
  step('Creating a machine from examples/hello');
  const created = await client.createMachine(APP, {
    config: {
      image,
      init: { exec: [process.execPath, 'server.mjs'] },
      services: [{ protocol: 'tcp', internal_port: INTERNAL_PORT, ports: [{ port: 80, handlers: ['http'] }] }],
      restart: { policy: 'on-failure' },
    },
  });
  step(`Waiting for machine ${created.id} to start`);
  await client.waitMachine(APP, created.id, 'started', { timeoutMs: 60_000, instanceId: created.instance_id });
  return client.getMachine(APP, created.id);
}

/** The first answer of the machine: the process may be started a moment before it listens. */
async function fetchOnce(url) {
  const deadline = Date.now() + 15_000;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      return { status: res.status, body: await res.text() };
    } catch (err) {
      last = err;
      await sleep(200);
    }
  }
  fail(`the machine did not answer at ${url}: ${last?.cause?.code ?? last?.message}`);
}

/** One GET through the proxy with `Host: <app>.localhost`; undefined when it does not answer 200. */
function viaProxy(host) {
  return new Promise((resolve) => {
    const req = request({ ...PROXY_ADDR, path: '/', headers: { host }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? { status: 200, body } : undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** The proxy follows the store within moments; give it a few tries. */
async function fetchViaProxy(host) {
  for (let i = 0; i < 15; i++) {
    const res = await viaProxy(host);
    if (res) return res;
    await sleep(200);
  }
  return undefined;
}

const server = await ensureServer();
const token = readToken();
const client = new ApiClient({ apiUrl: server.url, token });
try {
  await ensureApp(client);
  const machine = await ensureMachine(client);
  const routing = machine.hangar_routing;
  const hostPort = routing?.ports?.[String(INTERNAL_PORT)];
  if (!routing || hostPort === undefined) {
    fail(`machine ${machine.id} is ${machine.state} but reports no address (hangar_routing): see ${logFile}`);
  }
  const host = routing.address.includes(':') ? `[${routing.address}]` : routing.address;
  const direct = `http://${host}:${hostPort}/`;
  const res = await fetchOnce(direct);
  step(`Machine ${machine.id} answered ${res.status}: ${res.body.trim()}`);
  const proxied = await fetchViaProxy(`${APP}.localhost`);
  let url = direct;
  if (proxied) {
    url = `http://${APP}.localhost:${PROXY_ADDR.port}/`;
    step(`The edge proxy answered for ${APP}.localhost: ${proxied.body.trim()}`);
  } else {
    step(`The edge proxy did not answer on ${PROXY_ADDR.host}:${PROXY_ADDR.port} (see ${relative(root, logFile)}); use the machine's own address`);
  }
  const bin = relative(process.cwd(), join(root, 'bin', 'hangar.js')) || 'bin/hangar.js';
  const tokenPath = relative(process.cwd(), tokenFile);
  console.log(`
Hangar is running, with app "${APP}" on machine ${machine.id}. Try:

  curl ${url}

Use the CLI against it:

  export HANGAR_API_URL=${server.url} HANGAR_API_TOKEN=$(cat ${tokenPath})
  node ${bin} machine list -a ${APP}
  node ${bin} logs -a ${APP} --no-tail

Stop everything (the server stops its machines as it exits):

  kill ${server.pid}
`);
} catch (err) {
  fail(`${err.message}${err.suggestion ? `\n${err.suggestion}` : ''}\nServer log: ${logFile}`);
}
