import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyMachineFlags,
  guestFromFlags,
  parseEnvPairs,
  parsePortSpec,
  resolveImage,
  servicesFromPorts,
} from '../../../../src/cli/commands/common/machine-flags.js';

const usage = (re: RegExp) => (err: unknown) => (err as { code?: string }).code === 'HANGAR_ERR_USAGE' && re.test((err as Error).message);

describe('-p port specs (flyctl syntax)', () => {
  it('reads port, internal port, protocol and handlers', () => {
    assert.deepEqual(parsePortSpec('443:8080/tcp:http:tls'), { internal_port: 8080, protocol: 'tcp', port: { port: 443, handlers: ['http', 'tls'] } });
    assert.deepEqual(parsePortSpec('8080'), { internal_port: 8080, protocol: 'tcp', port: { port: 8080 } });
    assert.deepEqual(parsePortSpec('5000-5010:5000/udp'), { internal_port: 5000, protocol: 'udp', port: { start_port: 5000, end_port: 5010 } });
  });

  it('rejects malformed specs with the expected form', () => {
    assert.throws(() => parsePortSpec('abc'), usage(/expected port\[:internal\]/));
    assert.throws(() => parsePortSpec('80:70000'), usage(/70000 is not a port number/));
    assert.throws(() => parsePortSpec('80/sctp'), usage(/protocol must be tcp or udp/));
    assert.throws(() => parsePortSpec('80/tcp:gopher'), usage(/unknown handler "gopher"/));
    assert.throws(() => parsePortSpec('90-80'), usage(/ends before it starts/));
  });

  it('groups ports of one internal port into one service, with autostop/autostart', () => {
    const services = servicesFromPorts(['80:8080/tcp:http', '443:8080/tcp:http:tls', '9000'], { autostop: 'suspend', autostart: true });
    assert.equal(services.length, 2);
    assert.deepEqual(services[0], {
      protocol: 'tcp',
      internal_port: 8080,
      autostop: 'suspend',
      autostart: true,
      ports: [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['http', 'tls'] }],
    });
    assert.throws(() => servicesFromPorts(['80'], { autostop: 'sometimes' }), usage(/--autostop/));
  });
});

describe('other machine flags', () => {
  it('parses -e NAME=VALUE (values may hold =)', () => {
    assert.deepEqual(parseEnvPairs(['A=1', 'B=x=y', 'A=2']), { A: '2', B: 'x=y' });
    assert.throws(() => parseEnvPairs(['NOVALUE']), usage(/expected NAME=VALUE/));
  });

  it('builds a guest from --vm-* on top of a preset or the current guest', () => {
    assert.equal(guestFromFlags({}), undefined);
    assert.deepEqual(guestFromFlags({ vmMemory: '1gb' }), { cpu_kind: 'shared', cpus: 1, memory_mb: 1024 });
    assert.deepEqual(guestFromFlags({ vmCpus: '2' }, { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 }), { cpu_kind: 'performance', cpus: 2, memory_mb: 2048 });
    assert.throws(() => guestFromFlags({ vmSize: 'huge-9x' }), usage(/expected to start with 'shared' or 'performance'/));
    assert.throws(() => guestFromFlags({ vmCpus: 'two' }), usage(/--vm-cpus/));
    assert.throws(() => guestFromFlags({ vmMemory: 'lots' }), usage(/--vm-memory/));
  });

  it('makes dir: images absolute and leaves registry images alone', () => {
    assert.equal(resolveImage('dir:examples/hello', '/repo'), 'dir:/repo/examples/hello');
    assert.equal(resolveImage('dir:/abs'), 'dir:/abs');
    assert.equal(resolveImage('nginx:1.27'), 'nginx:1.27');
    assert.throws(() => resolveImage('dir:'), usage(/name a directory/));
  });

  it('applies flags to a config without touching the original', () => {
    const base = { image: 'x', env: { A: '1' }, services: [{ protocol: 'tcp' as const, internal_port: 8080, ports: [{ port: 80 }] }] };
    const next = applyMachineFlags(base, { env: ['B=2'], restart: 'always', entrypoint: 'node --enable-source-maps', autostop: 'off' });
    assert.deepEqual(next.env, { A: '1', B: '2' });
    assert.deepEqual(next.restart, { policy: 'always' });
    assert.deepEqual(next.init?.entrypoint, ['node', '--enable-source-maps']);
    assert.equal(next.services?.[0]?.autostop, false);
    assert.deepEqual(base.env, { A: '1' });
    assert.throws(() => applyMachineFlags(base, { restart: 'sometimes' }), usage(/--restart/));
    assert.throws(() => applyMachineFlags(base, { entrypoint: '"unclosed' }), usage(/--entrypoint/));
  });
});
