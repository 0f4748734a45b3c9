/**
 * Where an image's root filesystem is on this host, for `[[statics]]` (statics.ts): the
 * `StaticRootResolver` that `hangar server` and `hangar proxy` plug into the proxy.
 *
 * - `dir:/abs/path` images (the `process` driver, and ready rootfs directories under `crun`)
 *   are that directory.
 * - Other references are looked up in the ImageStore, by the digest the agent recorded in
 *   `image_ref` first (what the machine really ran), else by the reference itself; the rootfs is
 *   the store's read-only unpacked tree (unpacked here once if no machine has run the image on
 *   this host yet). The proxy never pulls: an image this host does not have serves no statics,
 *   and its requests go to the app.
 */
import type { ImageStore } from '../images/store.js';
import type { StaticImage, StaticRootResolver } from './statics.js';

/** The resolver; without an ImageStore only `dir:` images have statics. */
export function imageStaticRoot(images: Pick<ImageStore, 'find' | 'rootfs'> | undefined): StaticRootResolver {
  return async (image: StaticImage) => {
    if (image.ref.startsWith('dir:/')) return image.ref.slice('dir:'.length);
    if (!images) return undefined;
    const record = (image.digest ? await images.find(image.digest) : undefined) ?? (await images.find(image.ref));
    return record ? images.rootfs(record) : undefined;
  };
}
