import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { backoffDelay, decideAfterExit, effectivePolicy, DEFAULT_MAX_RETRIES, type ExitFacts } from '../../src/agent/restart-policy.js';
import type { MachineRestart } from '../../src/core/fly/machine-config.js';
import type { DesiredState } from '../../src/core/machine/types.js';

const backoff = { baseMs: 100, maxMs: 1000 };
const facts = (over: Partial<ExitFacts> = {}): ExitFacts => ({ exitCode: 1, requestedStop: false, desired: 'started', restartCount: 0, ...over });

describe('restart policy', () => {
  test('on-failure is the default policy', () => {
    assert.equal(effectivePolicy(undefined), 'on-failure');
    assert.equal(decideAfterExit(undefined, facts()).action, 'restart');
  });

  test('every policy × exit code × requested stop × desired × restart count', () => {
    const policies: (MachineRestart | undefined)[] = [undefined, { policy: 'no' }, { policy: 'always' }, { policy: 'on-failure' }, { policy: 'on-failure', max_retries: 0 }, { policy: 'on-failure', max_retries: 2 }, { policy: 'always', max_retries: 1 }];
    const desireds: DesiredState[] = ['started', 'stopped', 'suspended', 'destroyed', 'created'];
    for (const p of policies)
      for (const exitCode of [0, 1, 137, -1])
        for (const requestedStop of [false, true])
          for (const desired of desireds)
            for (const restartCount of [0, 1, 2, 3, 10, 11]) {
              const d = decideAfterExit(p, { exitCode, requestedStop, desired, restartCount }, backoff);
              const label = JSON.stringify({ p, exitCode, requestedStop, desired, restartCount, d });
              const policy = p?.policy ?? 'on-failure';
              const max = policy === 'on-failure' ? (p?.max_retries ?? DEFAULT_MAX_RETRIES) : Infinity;
              let expected: string;
              if (requestedStop || desired !== 'started' || policy === 'no') expected = 'stopped';
              else if (policy === 'always') expected = 'restart';
              else if (exitCode === 0) expected = 'stopped';
              else expected = restartCount < max ? 'restart' : 'failed';
              assert.equal(d.action === 'restart' ? 'restart' : d.state, expected, label);
              if (d.action === 'restart') {
                assert.equal(d.restartCount, restartCount + 1, label);
                assert.equal(d.delayMs, backoffDelay(restartCount + 1, backoff), label);
              } else assert.equal(d.restartCount, restartCount, label);
            }
  });

  test('crash loop with max_retries=3 restarts exactly 3 times', () => {
    let count = 0;
    let restarts = 0;
    for (;;) {
      const d = decideAfterExit({ policy: 'on-failure', max_retries: 3 }, facts({ restartCount: count }), backoff);
      if (d.action === 'rest') {
        assert.equal(d.state, 'failed');
        break;
      }
      restarts++;
      count = d.restartCount;
    }
    assert.equal(restarts, 3);
  });

  test('backoff doubles from the base and is capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, backoff)), [100, 200, 400, 800, 1000, 1000]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 100_000 }), (n, base, max) => {
        const d = backoffDelay(n, { baseMs: base, maxMs: max });
        return d <= max && d >= Math.min(base, max) && backoffDelay(n + 1, { baseMs: base, maxMs: max }) >= d;
      }),
    );
  });
});
