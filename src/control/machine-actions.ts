/**
 * User actions on a machine (reference §1a machines table): start, stop, restart, suspend,
 * cordon/uncordon, metadata, events, versions. Each is a pure `transition()` (core/machine/state.ts)
 * applied to the record with compare-and-set; the agent notices `desired`/`generation` and acts.
 * Parameters of a stop or restart (signal, timeout, force_stop) travel in the event's `request`,
 * where the agent reads them from the newest event of that type.
 */
import { KINDS, type HostRecord, type MachineVersionRecord } from '../core/model.js';
import { transition, type UserAction } from '../core/machine/state.js';
import type { MachineEvent, MachineState } from '../core/machine/types.js';
import { notFound, transitionError } from './errors.js';
import type { ControlContext } from './context.js';
import { loadMachine, mutateMachine, userEvent, withEvent } from './machine-store.js';
import { METADATA_KEY, quote } from './names.js';
import { badRequest } from './errors.js';
import type { MachineRecord } from '../core/machine/types.js';

export interface ActionParams {
  signal?: string | undefined;
  timeout?: string | undefined;
  force_stop?: boolean | undefined;
}

const EVENT_OF: Record<'start' | 'stop' | 'restart' | 'suspend', MachineEvent['type']> = {
  start: 'start', stop: 'stop', restart: 'restart', suspend: 'suspend',
};

function compact(params: ActionParams): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
}

/** Runs a lifecycle action; returns the state before it. A no-op (already there) writes nothing new but succeeds. */
async function act(ctx: ControlContext, app: string, id: string, action: 'start' | 'stop' | 'restart' | 'suspend', nonce: string | undefined, params: ActionParams = {}): Promise<MachineState> {
  let effective: UserAction = action;
  if (action === 'suspend') {
    // a host whose driver cannot snapshot memory stops the machine instead (documented Hangar behaviour)
    const { rec } = await loadMachine(ctx, app, id);
    const host = await ctx.store.get<HostRecord>(KINDS.host, rec.host);
    if (host?.value.capabilities.suspend !== true) effective = 'stop';
  }
  return mutateMachine(ctx, app, id, { leased: true, nonce }, (cur, now) => {
    const t = transition(cur, effective);
    if (!t.ok) throw transitionError(t.http, t.message);
    if (t.noop) return { rec: cur, result: t.previousState };
    const ev = userEvent(EVENT_OF[action], t.state, now, Object.keys(compact(params)).length > 0 ? compact(params) : undefined);
    const next: MachineRecord = {
      ...cur,
      state: t.state,
      desired: t.desired,
      generation: t.bumpGeneration ? cur.generation + 1 : cur.generation,
      // a user start or restart gives the restart policy a fresh budget
      restart_count: action === 'start' || action === 'restart' ? 0 : cur.restart_count,
      events: withEvent(cur, ev),
    };
    return { rec: next, result: t.previousState };
  });
}

export async function startMachine(ctx: ControlContext, app: string, id: string, nonce: string | undefined): Promise<Record<string, unknown>> {
  const previous = await act(ctx, app, id, 'start', nonce);
  return { previous_state: previous, migrated: false, new_host: '' };
}

export async function stopMachine(ctx: ControlContext, app: string, id: string, nonce: string | undefined, params: ActionParams): Promise<Record<string, unknown>> {
  await act(ctx, app, id, 'stop', nonce, params);
  return { ok: true };
}

export async function restartMachine(ctx: ControlContext, app: string, id: string, nonce: string | undefined, params: ActionParams): Promise<Record<string, unknown>> {
  await act(ctx, app, id, 'restart', nonce, params);
  return { ok: true };
}

export async function suspendMachine(ctx: ControlContext, app: string, id: string, nonce: string | undefined): Promise<Record<string, unknown>> {
  await act(ctx, app, id, 'suspend', nonce);
  return { ok: true };
}

/** Cordon takes a machine out of proxy routing; uncordon puts it back. No new version. */
export async function setCordoned(ctx: ControlContext, app: string, id: string, cordoned: boolean, nonce: string | undefined): Promise<Record<string, unknown>> {
  await mutateMachine(ctx, app, id, { leased: true, nonce }, (cur, now) => {
    if (cur.state === 'destroyed' || cur.state === 'destroying') throw notFound(`machine not found: ${quote(id)} (it is ${cur.state})`);
    const next: MachineRecord = { ...cur, cordoned, events: withEvent(cur, userEvent(cordoned ? 'cordon' : 'uncordon', cordoned ? 'cordoned' : 'uncordoned', now)) };
    return { rec: next, result: undefined };
  });
  return { ok: true };
}

export async function getMetadata(ctx: ControlContext, app: string, id: string): Promise<Record<string, string>> {
  return (await loadMachine(ctx, app, id)).rec.config.metadata ?? {};
}

/** Sets or deletes one metadata key in place: metadata edits create no new version (reference §1a). */
export async function setMetadata(ctx: ControlContext, app: string, id: string, key: string, value: string | null): Promise<void> {
  if (!METADATA_KEY.test(key)) throw badRequest(`invalid metadata key ${quote(key)}`);
  await mutateMachine(ctx, app, id, { leased: false }, (cur) => {
    const metadata = { ...(cur.config.metadata ?? {}) };
    if (value === null) {
      if (!(key in metadata)) throw notFound(`metadata key ${quote(key)} not found`);
      delete metadata[key];
    } else {
      metadata[key] = value;
    }
    return { rec: { ...cur, config: { ...cur.config, metadata } }, result: undefined };
  });
}

export async function machineEvents(ctx: ControlContext, app: string, id: string): Promise<MachineEvent[]> {
  return (await loadMachine(ctx, app, id)).rec.events;
}

/** Every version of the machine's config, newest first: `[{user_config, version}]`. */
export async function machineVersions(ctx: ControlContext, app: string, id: string): Promise<Array<{ user_config: unknown; version: string }>> {
  await loadMachine(ctx, app, id);
  const versions = await ctx.store.list<MachineVersionRecord>(KINDS.machineVersion, { scope: id });
  return versions
    .map((v) => v.value)
    .sort((a, b) => (a.instance_id < b.instance_id ? 1 : -1))
    .map((v) => ({ user_config: v.config, version: v.instance_id }));
}
