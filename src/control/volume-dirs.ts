/**
 * Volume data on disk: `<data-dir>/volumes/<vol id>`, created with the record and removed with
 * it. Before removing a directory Hangar proves it made it (CapRover's rule, STYLE.md): the path
 * must be exactly the one it would have created for that id.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { VolumeRecord } from '../core/model.js';
import { VOLUME_ID } from './names.js';

export function volumeDir(dataDir: string, id: string): string {
  if (!VOLUME_ID.test(id)) throw new Error(`refusing volume path for invalid id ${JSON.stringify(id)}`);
  return resolve(join(dataDir, 'volumes', id));
}

export async function createVolumeDir(dataDir: string, id: string): Promise<string> {
  const dir = volumeDir(dataDir, id);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/** Removes the volume's directory if it is the one Hangar created for it. */
export async function removeVolumeDir(dataDir: string, vol: Pick<VolumeRecord, 'id' | 'host_path'>): Promise<void> {
  if (!VOLUME_ID.test(vol.id)) return;
  const dir = volumeDir(dataDir, vol.id);
  if (resolve(vol.host_path) !== dir) return;
  await rm(dir, { recursive: true, force: true });
}
