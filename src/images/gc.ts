/**
 * Garbage collection planned as data (STYLE.md habit 1): which index records, blobs and rootfs
 * dirs go, given what exists and which images running machines pin. The ImageStore applies it.
 */
import type { ImageRecord } from './index-file.js';

export interface GcInput {
  records: readonly ImageRecord[];
  /** Digests (manifest or manifest-list) of images in use; never collected. */
  pinned: ReadonlySet<string>;
  /** Also drop index records nobody pins (a prune); otherwise only unreferenced content goes. */
  pruneUnpinned: boolean;
  /** Manifest digest → the blobs it references (config and layers), for every manifest known. */
  manifestBlobs: ReadonlyMap<string, readonly string[]>;
  /** Every blob in the store. */
  blobs: readonly string[];
  /** Manifest digests that have an unpacked rootfs. */
  rootfs: readonly string[];
}

export interface GcPlan {
  keep: ImageRecord[];
  drop: ImageRecord[];
  deleteBlobs: string[];
  deleteRootfs: string[];
}

export function planGc(input: GcInput): GcPlan {
  const isPinned = (r: ImageRecord): boolean => input.pinned.has(r.digest) || (r.repoDigest !== undefined && input.pinned.has(r.repoDigest));
  const keep = input.pruneUnpinned ? input.records.filter(isPinned) : [...input.records];
  const drop = input.records.filter((r) => !keep.includes(r));

  const liveImages = new Set<string>([...keep.map((r) => r.digest), ...input.pinned]);
  const liveBlobs = new Set<string>(input.pinned);
  for (const r of keep) if (r.repoDigest) liveBlobs.add(r.repoDigest);
  for (const d of liveImages) {
    liveBlobs.add(d);
    for (const child of input.manifestBlobs.get(d) ?? []) liveBlobs.add(child);
  }
  return {
    keep,
    drop,
    deleteBlobs: input.blobs.filter((b) => !liveBlobs.has(b)),
    deleteRootfs: input.rootfs.filter((d) => !liveImages.has(d)),
  };
}
