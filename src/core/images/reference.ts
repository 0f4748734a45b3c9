/**
 * Image references parsed and normalized the way Docker does (distribution/reference):
 * `busybox` → `docker.io/library/busybox:latest`, `127.0.0.1:5000/app@sha256:…`,
 * `ghcr.io/org/app:v1@sha256:…`. Pure: the ImageStore, the CLI and the API all use it.
 */
import { ImageError } from './errors.js';

export interface ImageReference {
  /** Registry host with optional port; `docker.io` for Docker Hub. */
  registry: string;
  /** Path inside the registry; Docker Hub's official images get `library/`. */
  repository: string;
  /** Absent only when a digest is given without a tag. */
  tag?: string;
  /** `sha256:<64 hex>` when the reference pins content. */
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME = 255;

/** true for `sha256:<64 lowercase hex>`, the only digest algorithm Hangar accepts. */
export function isDigest(value: string): boolean {
  return SHA256.test(value);
}

/**
 * Parses `input` like `docker pull` does. Throws `HANGAR_ERR_IMAGE_REF` naming the input and the
 * rule it breaks.
 */
export function parseReference(input: string): ImageReference {
  const raw = input.trim();
  const bad = (why: string): ImageError =>
    new ImageError('HANGAR_ERR_IMAGE_REF', `invalid image reference "${input}": ${why}`, { ref: input });
  if (raw === '') throw bad('it is empty');

  let name = raw;
  let digest: string | undefined;
  const at = raw.indexOf('@');
  if (at >= 0) {
    digest = raw.slice(at + 1);
    name = raw.slice(0, at);
    if (!isDigest(digest)) throw bad('the digest must be sha256:<64 lowercase hex digits>');
  }

  // A colon after the last slash starts the tag; one before it is a registry port.
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }

  // Docker's rule: the first component is a registry only if it looks like a host
  // (has a dot or a port, is localhost, or has capitals, which repositories may not).
  let registry = DOCKER_HUB;
  let path = name;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      path = name.slice(slash + 1);
      if (!DOMAIN.test(registry)) throw bad(`"${registry}" is not a valid registry host`);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (path === '') throw bad('the repository name is empty');
  if (path !== path.toLowerCase()) throw bad('repository names must be lowercase');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) throw bad(`"${component}" is not a valid path component`);
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (`${registry}/${path}`.length > MAX_NAME) throw bad(`the name is longer than ${MAX_NAME} characters`);

  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: ImageReference = { registry, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The canonical string: `registry/repository[:tag][@digest]`, e.g. `docker.io/library/busybox:latest`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** The short form people type: Docker Hub's `docker.io/library/` prefix dropped. */
export function familiarReference(ref: ImageReference): string {
  const full = formatReference(ref);
  if (ref.registry !== DOCKER_HUB) return full;
  const rest = full.slice(DOCKER_HUB.length + 1);
  return rest.startsWith('library/') ? rest.slice('library/'.length) : rest;
}

/** The host to speak the Registry API to: Docker Hub's API lives on another name than its refs. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/**
 * Whether a registry is spoken to over plain HTTP: loopback hosts (as Docker treats
 * 127.0.0.0/8 and localhost as insecure by default) and those the operator lists.
 */
export function usesPlainHttp(registry: string, insecure: readonly string[] = []): boolean {
  if (insecure.includes(registry)) return true;
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
