/**
 * `<images>/index.json`: the images this host holds, one record per name (`ref`) plus unnamed
 * imports. Several records may share a manifest digest. Rewritten atomically on every change.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ImageError } from '../core/images/errors.js';
import { writeFileAtomic } from './fsutil.js';

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);

const recordSchema = z.object({
  /** Canonical reference (`registry/repository:tag` or `…@digest`), or null for an unnamed import. */
  ref: z.string().nullable(),
  registry: z.string().optional(),
  repository: z.string().optional(),
  tag: z.string().optional(),
  /** Digest of the platform manifest: the image's identity and the name of its rootfs dir. */
  digest,
  /** Digest the source named the image by, when it differs (a manifest list's digest). */
  repoDigest: digest.optional(),
  configDigest: digest,
  layers: z.array(z.object({ digest, mediaType: z.string(), size: z.number().int().nonnegative() })),
  /** Bytes of config + layers as stored (compressed layer sizes). */
  size: z.number().int().nonnegative(),
  platform: z.string(),
  source: z.enum(['pull', 'import']),
  /** When this host stored the record (ISO 8601). */
  storedAt: z.string(),
});

const fileSchema = z.object({ version: z.literal(1), images: z.array(recordSchema) });

export type ImageRecord = z.infer<typeof recordSchema>;

/** Reads the index; a missing file is an empty store, a damaged one a coded error. */
export async function readIndex(path: string): Promise<ImageRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ImageError('HANGAR_ERR_IMAGE_STORE', `cannot read the image index ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ImageError('HANGAR_ERR_IMAGE_STORE', `the image index ${path} is not valid JSON`, { cause: err });
  }
  const result = fileSchema.safeParse(parsed);
  if (!result.success) throw new ImageError('HANGAR_ERR_IMAGE_STORE', `the image index ${path} is not a Hangar image index (version 1)`);
  return result.data.images;
}

export async function writeIndex(path: string, images: ImageRecord[]): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify({ version: 1, images }, null, 2)}\n`);
}
