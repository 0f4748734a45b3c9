import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stopOptions } from '../../src/agent/runner.js';
import type { MachineEvent } from '../../src/core/machine/types.js';
import type { MachineRecord } from '../../src/core/machine/types.js';

function rec(stop_config: { signal?: string; timeout?: string } | undefined, events: Partial<MachineEvent>[]): MachineRecord {
  return { config: { image: 'x', ...(stop_config ? { stop_config } : {}) }, events } as unknown as MachineRecord;
}

const ev = (type: MachineEvent['type'], source: MachineEvent['source'], request?: Record<string, unknown>): Partial<MachineEvent> => ({
  type,
  source,
  ...(request ? { request } : {}),
});

describe('stopOptions', () => {
  it("uses Fly's defaults without stop_config or request", () => {
    assert.deepEqual(stopOptions(rec(undefined, [])), { signal: 'SIGINT', timeoutMs: 5000 });
  });

  it('uses stop_config', () => {
    assert.deepEqual(stopOptions(rec({ signal: 'SIGTERM', timeout: '30s' }, [])), { signal: 'SIGTERM', timeoutMs: 30000 });
  });

  it("lets the newest user stop or restart request win over stop_config (POST /stop body, /restart query)", () => {
    const r = rec({ signal: 'SIGTERM', timeout: '30s' }, [ev('exit', 'flyd'), ev('restart', 'user', { signal: 'SIGUSR1', timeout: '2' }), ev('start', 'user')]);
    assert.deepEqual(stopOptions(r), { signal: 'SIGUSR1', timeoutMs: 2000 });
    const stop = rec(undefined, [ev('stop', 'user', { signal: 'SIGHUP', timeout: '1500ms' })]);
    assert.deepEqual(stopOptions(stop), { signal: 'SIGHUP', timeoutMs: 1500 });
  });

  it('ignores a stop request older than the newest user start or update', () => {
    const r = rec({ signal: 'SIGTERM' }, [ev('update', 'user'), ev('stop', 'user', { signal: 'SIGKILL' })]);
    assert.equal(stopOptions(r).signal, 'SIGTERM');
  });

  it('keeps the previous choice for an unknown signal name', () => {
    assert.equal(stopOptions(rec({ signal: 'SIGTERM' }, [ev('stop', 'user', { signal: 'SIGNOPE' })])).signal, 'SIGTERM');
  });
});
