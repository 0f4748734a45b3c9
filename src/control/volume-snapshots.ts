/**
 * Volume snapshots: a copy of the volume's directory under `<data-dir>/snapshots/<vol id>/<snap id>/`
 * with its metadata in `<snap id>.json` beside it (reference §1a "Snapshot" shape). Restoring a
 * snapshot into a new volume (`snapshot_id` on create) is not implemented yet.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { iso, type AuthContext, type ControlContext } from './context.js';
import { loadApp } from './apps.js';
import { loadVolume } from './volumes.js';
import { precondition } from './errors.js';

export interface SnapshotJson {
  id: string;
  size: number;
  volume_size: number;
  digest: string;
  created_at: string;
  status: 'created';
  retention_days: number;
}

function snapshotsDir(dataDir: string, volId: string): string {
  return join(dataDir, 'snapshots', volId);
}

async function treeSize(dir: string): Promise<{ bytes: number; listing: string[] }> {
  let bytes = 0;
  const listing: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const p = join(entry.parentPath, entry.name);
    const st = await stat(p);
    bytes += st.size;
    listing.push(`${p.slice(dir.length)}:${st.size}`);
  }
  return { bytes, listing: listing.sort() };
}

export async function listSnapshots(ctx: ControlContext, auth: AuthContext, appName: string, volId: string): Promise<SnapshotJson[]> {
  await loadApp(ctx, auth, appName);
  await loadVolume(ctx, appName, volId);
  const dir = snapshotsDir(ctx.dataDir, volId);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: SnapshotJson[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    out.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as SnapshotJson);
  }
  return out;
}

/** Copies the volume's directory into a new snapshot (only for volumes on this control plane's disk). */
export async function createSnapshot(ctx: ControlContext, auth: AuthContext, appName: string, volId: string): Promise<SnapshotJson> {
  await loadApp(ctx, auth, appName);
  const { vol } = await loadVolume(ctx, appName, volId);
  try {
    await stat(vol.host_path);
  } catch {
    throw precondition(`volume ${volId} has no data directory on this host (it lives on host ${vol.host}); snapshots of remote volumes are not available yet`);
  }
  const id = `vs_${randomBytes(8).toString('hex')}`;
  const dir = snapshotsDir(ctx.dataDir, volId);
  await mkdir(dir, { recursive: true });
  await cp(vol.host_path, join(dir, id), { recursive: true });
  const { bytes, listing } = await treeSize(join(dir, id));
  const snap: SnapshotJson = {
    id,
    size: bytes,
    volume_size: vol.size_gb,
    digest: createHash('sha256').update(listing.join('\n')).digest('hex'),
    created_at: iso(ctx.now()),
    status: 'created',
    retention_days: vol.snapshot_retention,
  };
  await writeFile(join(dir, `${id}.json`), JSON.stringify(snap));
  return snap;
}
