/**
 * OCI and Docker schema2 documents: media types, decoding of manifests, indexes (manifest lists)
 * and image configs, and platform selection. Decoding is strict about what Hangar relies on and
 * lenient about the rest (unknown fields pass through untouched).
 */
import { z } from 'zod';
import { ImageError } from '../core/images/errors.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What a registry client asks for: every format Hangar reads, indexes first. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'expected sha256:<64 hex>');

const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
});

const descriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  platform: platformSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});

const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});

const imageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z
    .looseObject({
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      Env: z.array(z.string()).nullish(),
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
      ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
      Labels: z.record(z.string(), z.string()).nullish(),
      StopSignal: z.string().nullish(),
    })
    .nullish(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(digestSchema) }).optional(),
});

export type Platform = z.infer<typeof platformSchema>;
export type Descriptor = z.infer<typeof descriptorSchema>;
export type ImageManifest = z.infer<typeof manifestSchema>;
export type ImageIndex = z.infer<typeof indexSchema>;
export type ImageConfig = z.infer<typeof imageConfigSchema>;

export type ManifestDocument = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

function parseJson(bytes: Uint8Array, what: string, ref: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ImageError('HANGAR_ERR_IMAGE_PULL', `the ${what} of ${ref} is not valid JSON`, { ref, cause: err });
  }
}

function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Decodes a manifest or index. `contentType` (from the registry's Content-Type) wins over the
 * document's own `mediaType`; without either, the shape decides (`manifests` → index).
 */
export function parseManifestDocument(bytes: Uint8Array, contentType: string | undefined, ref: string): ManifestDocument {
  const doc = parseJson(bytes, 'manifest', ref) as Record<string, unknown> | null;
  const declared = (contentType?.split(';')[0]?.trim() || undefined) ?? (typeof doc?.mediaType === 'string' ? doc.mediaType : undefined);
  if (declared === MEDIA.dockerSchema1 || declared === MEDIA.dockerSchema1Signed || doc?.schemaVersion === 1) {
    throw new ImageError('HANGAR_ERR_IMAGE_PULL', `${ref} uses Docker's schema1 manifest format, which Hangar does not read`, { ref });
  }
  const isIndex = declared === MEDIA.ociIndex || declared === MEDIA.dockerList || (declared !== MEDIA.ociManifest && declared !== MEDIA.dockerManifest && Array.isArray(doc?.manifests));
  if (isIndex) {
    const parsed = indexSchema.safeParse(doc);
    if (!parsed.success) throw new ImageError('HANGAR_ERR_IMAGE_PULL', `the manifest list of ${ref} is malformed: ${describeIssues(parsed.error)}`, { ref });
    return { kind: 'index', index: parsed.data };
  }
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) throw new ImageError('HANGAR_ERR_IMAGE_PULL', `the manifest of ${ref} is malformed: ${describeIssues(parsed.error)}`, { ref });
  return { kind: 'manifest', manifest: parsed.data };
}

/** Decodes an image config blob (the JSON holding Entrypoint, Cmd, Env and the layer diff ids). */
export function parseImageConfig(bytes: Uint8Array, ref: string): ImageConfig {
  const parsed = imageConfigSchema.safeParse(parseJson(bytes, 'config', ref));
  if (!parsed.success) throw new ImageError('HANGAR_ERR_IMAGE_PULL', `the image config of ${ref} is malformed: ${describeIssues(parsed.error)}`, { ref });
  return parsed.data;
}

/** The platform images are chosen for on this host (Go's names: amd64, arm64). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Parses `linux/amd64` or `linux/arm64/v8`. */
export function parsePlatform(value: string): Platform {
  const [os, architecture, variant] = value.split('/');
  if (!os || !architecture) throw new ImageError('HANGAR_ERR_IMAGE_REF', `invalid platform "${value}": expected os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * Picks the manifest for `want` from an index. Entries without a platform and attestation
 * manifests (`unknown/unknown`, as buildx pushes them) are skipped; a variant is compared only
 * when asked for.
 */
export function selectPlatform(index: ImageIndex, want: Platform, ref: string): Descriptor {
  const match = index.manifests.find(
    (d) =>
      d.platform !== undefined &&
      d.platform.os === want.os &&
      d.platform.architecture === want.architecture &&
      (want.variant === undefined || d.platform.variant === want.variant),
  );
  if (match) return match;
  const offered = index.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform as Platform));
  throw new ImageError(
    'HANGAR_ERR_IMAGE_PLATFORM',
    `${ref} has no image for ${formatPlatform(want)} (it offers: ${offered.length > 0 ? offered.join(', ') : 'none'})`,
    { ref },
  );
}
