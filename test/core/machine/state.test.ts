import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { satisfiesWait, transition, waitIsHopeless, type UserAction } from '../../../src/core/machine/state.js';
import type { DesiredState, MachineState } from '../../../src/core/machine/types.js';

function t(state: MachineState, action: UserAction, desired: DesiredState = 'started') {
  return transition({ state, desired }, action);
}

describe('machine transitions', () => {
  it('starts a stopped, created, suspended or failed machine', () => {
    for (const s of ['stopped', 'created', 'suspended', 'failed'] as const) {
      const r = t(s, 'start', 'stopped');
      assert.ok(r.ok);
      assert.equal(r.state, 'starting');
      assert.equal(r.desired, 'started');
      assert.equal(r.previousState, s);
      assert.equal(r.bumpGeneration, true);
    }
  });

  it('treats start of a started machine as a no-op', () => {
    const r = t('started', 'start');
    assert.ok(r.ok);
    assert.equal(r.noop, true);
    assert.equal(r.state, 'started');
  });

  it('stops a started machine and no-ops a stopped one', () => {
    const r = t('started', 'stop');
    assert.ok(r.ok && r.state === 'stopping' && r.desired === 'stopped');
    const again = t('stopped', 'stop', 'stopped');
    assert.ok(again.ok && again.noop);
  });

  it('refuses to destroy a running machine without force, with a 412', () => {
    const r = t('started', 'destroy');
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.http === 412 && /not currently stopped/.test(r.message));
    const forced = t('started', 'force-destroy');
    assert.ok(forced.ok && forced.state === 'destroying' && forced.desired === 'destroyed');
  });

  it('destroys a stopped machine', () => {
    const r = t('stopped', 'destroy', 'stopped');
    assert.ok(r.ok && r.desired === 'destroyed');
  });

  it('answers 404 for destroyed or replaced machines', () => {
    for (const s of ['destroyed', 'replaced'] as const) {
      const r = t(s, 'start');
      assert.ok(!r.ok && r.http === 404);
    }
  });

  it('suspends only running machines', () => {
    assert.ok(!t('stopped', 'suspend', 'stopped').ok);
    const r = t('started', 'suspend');
    assert.ok(r.ok && r.state === 'suspending');
  });

  it('restarts a running machine and starts a stopped one', () => {
    const r = t('started', 'restart');
    assert.ok(r.ok && r.state === 'restarting' && r.bumpGeneration);
    const s = t('stopped', 'restart', 'stopped');
    assert.ok(s.ok && s.state === 'starting' && s.desired === 'started');
  });

  it('update keeps the desired state and bumps the generation', () => {
    const r = t('stopped', 'update', 'stopped');
    assert.ok(r.ok && r.desired === 'stopped' && r.bumpGeneration);
  });
});

describe('wait', () => {
  it('matches states, with settled meaning any persistent state', () => {
    assert.equal(satisfiesWait('started', 'started'), true);
    assert.equal(satisfiesWait('starting', 'started'), false);
    assert.equal(satisfiesWait('created', 'stopped'), true);
    assert.equal(satisfiesWait('failed', 'settled'), true);
    assert.equal(satisfiesWait('stopping', 'settled'), false);
  });

  it('knows when waiting for started can no longer succeed', () => {
    assert.equal(waitIsHopeless('failed', 'started', 'started'), true);
    assert.equal(waitIsHopeless('destroyed', 'destroyed', 'started'), true);
    assert.equal(waitIsHopeless('starting', 'started', 'started'), false);
    assert.equal(waitIsHopeless('stopped', 'stopped', 'started'), true);
    assert.equal(waitIsHopeless('stopped', 'started', 'started'), false);
  });
});
