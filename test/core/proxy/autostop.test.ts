/**
 * The autostop rule (reference §1c): per service with autostop on, per region, one machine per
 * round; a lone machine only at zero load; `min_machines_running` in the primary region only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autostopMode, decideAutostop, type AutostopMachine } from '../../../src/core/proxy/autostop.js';
import type { MachineAutostop } from '../../../src/core/fly/machine-config.js';

function m(id: string, opts: { region?: string; state?: string; autostop?: MachineAutostop; min?: number; soft?: number; primary?: string; app?: string; port?: number } = {}): AutostopMachine {
  return {
    id,
    app: opts.app ?? 'web',
    region: opts.region ?? 'ams',
    state: opts.state ?? 'started',
    primaryRegion: opts.primary,
    services: [
      {
        protocol: 'tcp',
        internal_port: opts.port ?? 8080,
        autostop: opts.autostop ?? true,
        ...(opts.min === undefined ? {} : { min_machines_running: opts.min }),
        concurrency: { type: 'requests', soft_limit: opts.soft ?? 2 },
      },
    ],
  };
}

const loads = (l: Record<string, number>) => (id: string) => l[id] ?? 0;
const ids = (a: { machineId: string }[]) => a.map((x) => x.machineId);

test('wire forms: true / "stop" stop, "suspend" suspends, false / undefined / other are off', () => {
  assert.equal(autostopMode(true), 'stop');
  assert.equal(autostopMode('stop'), 'stop');
  assert.equal(autostopMode('suspend'), 'suspend');
  assert.equal(autostopMode(false), 'off');
  assert.equal(autostopMode(undefined), 'off');
  assert.equal(autostopMode('off'), 'off');
});

test('two idle machines: exactly one stops per round, the least loaded (ties by id)', () => {
  assert.deepEqual(ids(decideAutostop([m('b'), m('a')], loads({}))), ['a']);
  assert.deepEqual(ids(decideAutostop([m('a'), m('b')], loads({ a: 1 }))), ['b']);
});

test('excess = started − (over soft + 1): nothing to stop when every other machine is over its soft limit', () => {
  // 3 started, 2 over soft (load ≥ 2): excess = 3 − 3 = 0
  assert.deepEqual(decideAutostop([m('a'), m('b'), m('c')], loads({ a: 2, b: 5, c: 0 })), []);
  // 3 started, 1 over soft: excess 1 → the least loaded goes
  assert.deepEqual(ids(decideAutostop([m('a'), m('b'), m('c')], loads({ a: 2, b: 1, c: 0 }))), ['c']);
  // 2 started, both over soft: excess −1
  assert.deepEqual(decideAutostop([m('a'), m('b')], loads({ a: 2, b: 2 })), []);
  // a machine with load below soft but non-zero can still be the one (others absorb it)
  assert.deepEqual(ids(decideAutostop([m('a'), m('b')], loads({ a: 1, b: 1 }))), ['a']);
});

test('a lone machine stops only at zero load', () => {
  assert.deepEqual(ids(decideAutostop([m('a')], loads({}))), ['a']);
  assert.deepEqual(decideAutostop([m('a')], loads({ a: 1 })), []);
});

test('min_machines_running holds in the primary region only', () => {
  assert.deepEqual(decideAutostop([m('a', { min: 1 })], loads({})), [], 'region = primary by default');
  assert.deepEqual(ids(decideAutostop([m('a', { min: 1 }), m('b', { min: 1 })], loads({}))), ['a'], 'two → one is allowed');
  assert.deepEqual(decideAutostop([m('a', { min: 2 }), m('b', { min: 2 })], loads({})), []);
  // primary elsewhere: this region may go to zero
  assert.deepEqual(ids(decideAutostop([m('a', { min: 1, primary: 'iad' })], loads({}))), ['a']);
  assert.deepEqual(decideAutostop([m('a', { min: 1, primary: 'ams' })], loads({})), []);
  // the app's primary region comes from any machine that carries PRIMARY_REGION
  assert.deepEqual(ids(decideAutostop([m('a', { min: 1, region: 'ams' }), m('x', { min: 1, region: 'iad', primary: 'iad' })], loads({ x: 1 }))), ['a']);
});

test('per region: one machine per region per round', () => {
  const out = decideAutostop([m('a', { region: 'ams' }), m('b', { region: 'ams' }), m('c', { region: 'iad' }), m('d', { region: 'iad' })], loads({}));
  assert.deepEqual(ids(out).sort(), ['a', 'c']);
});

test('autostop off, stopped machines and non-tcp services are left alone; suspend is passed through', () => {
  assert.deepEqual(decideAutostop([m('a', { autostop: false })], loads({})), []);
  assert.deepEqual(decideAutostop([m('a', { state: 'stopped' }), m('b', { state: 'starting' })], loads({})), []);
  const udp: AutostopMachine = { ...m('u'), services: [{ protocol: 'udp', internal_port: 53, autostop: true }] };
  assert.deepEqual(decideAutostop([udp], loads({})), []);
  const out = decideAutostop([m('a', { autostop: 'suspend' })], loads({}));
  assert.equal(out[0]?.action, 'suspend');
  assert.equal(decideAutostop([m('a', { autostop: 'stop' as MachineAutostop })], loads({}))[0]?.action, 'stop');
});

test('separate apps and separate services decide separately, but a machine is acted on once', () => {
  assert.deepEqual(ids(decideAutostop([m('a', { app: 'x' }), m('b', { app: 'y' })], loads({}))).sort(), ['a', 'b']);
  const two: AutostopMachine = { ...m('a'), services: [...m('a').services, ...m('a', { port: 9000 }).services] };
  assert.deepEqual(ids(decideAutostop([two], loads({}))), ['a']);
});

test('load is read per service port', () => {
  const seen: string[] = [];
  decideAutostop([m('a', { port: 7000 })], (id, port) => {
    seen.push(`${id}:${port}`);
    return 0;
  });
  assert.deepEqual(seen, ['a:7000']);
});
