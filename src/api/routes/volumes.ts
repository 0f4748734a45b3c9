/** `/v1/apps/{app}/volumes` (reference §1a "Volumes", "Volume object"). */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../control/errors.js';
import { createVolume, deleteVolume, extendVolume, getVolume, listVolumes, updateVolume } from '../../control/volumes.js';
import { createSnapshot, listSnapshots } from '../../control/volume-snapshots.js';
import { REGION } from '../../control/names.js';
import { parseBody, volumeCreateBody, volumeExtendBody, volumeUpdateBody } from '../bodies.js';
import { authOf, param, type Services } from '../context.js';

export function volumeRoutes(app: FastifyInstance, { ctx }: Services): void {
  const base = '/v1/apps/:app/volumes';

  app.get(base, async (req) => listVolumes(ctx, authOf(req), param(req, 'app')));

  app.post(base, async (req) => {
    const b = parseBody(volumeCreateBody, req.body);
    if (b.snapshot_id !== undefined && b.snapshot_id !== '') throw badRequest('creating a volume from a snapshot (snapshot_id) is not available yet');
    if (b.source_volume_id !== undefined && b.source_volume_id !== '') throw badRequest('forking a volume (source_volume_id) is not available yet');
    const region = b.region || undefined;
    if (region !== undefined && !REGION.test(region)) throw badRequest(`invalid region ${JSON.stringify(region.slice(0, 32))}`);
    return createVolume(ctx, authOf(req), param(req, 'app'), {
      name: b.name, region, size_gb: b.size_gb, encrypted: b.encrypted, snapshot_retention: b.snapshot_retention,
      auto_backup_enabled: b.auto_backup_enabled, fstype: b.fstype,
    });
  });

  app.get(`${base}/:vol`, async (req) => getVolume(ctx, authOf(req), param(req, 'app'), param(req, 'vol')));

  app.put(`${base}/:vol`, async (req) => {
    const b = parseBody(volumeUpdateBody, req.body);
    return updateVolume(ctx, authOf(req), param(req, 'app'), param(req, 'vol'), b);
  });

  app.delete(`${base}/:vol`, async (req) => deleteVolume(ctx, authOf(req), param(req, 'app'), param(req, 'vol')));

  app.put(`${base}/:vol/extend`, async (req) => {
    const b = parseBody(volumeExtendBody, req.body);
    return extendVolume(ctx, authOf(req), param(req, 'app'), param(req, 'vol'), b.size_gb);
  });

  app.get(`${base}/:vol/snapshots`, async (req) => listSnapshots(ctx, authOf(req), param(req, 'app'), param(req, 'vol')));

  app.post(`${base}/:vol/snapshots`, async (req, reply) => {
    const snap = await createSnapshot(ctx, authOf(req), param(req, 'app'), param(req, 'vol'));
    return reply.code(201).send(snap);
  });
}
