/**
 * `image_ref` of the machine object (reference §1a) from the config's image string, e.g.
 * `registry.fly.io/app:deployment-01H...@sha256:...` → registry, repository, tag, digest.
 * Docker Hub short names get Docker's defaults (`docker.io`, `library/`, `latest`).
 */
import type { ImageRef } from '../core/machine/types.js';

export function parseImageRef(image: string): ImageRef {
  let rest = image.trim();
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (tag === '' && digest === '') tag = 'latest';
  const repository = registry === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest;
  return { registry, repository, tag, digest, labels: {} };
}
