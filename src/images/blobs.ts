/**
 * Content-addressed blobs under `<images>/blobs/sha256/<hex>`. A blob becomes visible only once
 * its bytes are on disk (fsync) and hash to the digest it is filed under: downloads and archive
 * members are written to `<images>/tmp/` first and renamed into place after the check.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../core/images/errors.js';
import { isDigest } from '../core/images/reference.js';
import { syncDir } from './fsutil.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface PutOptions {
  /** The digest the content must hash to; without it the blob is filed under what it hashes to. */
  digest?: string;
  /** The size the content must have, when known (stops an oversized download early). */
  size?: number;
  /** The image or archive the blob belongs to, for error messages. */
  ref?: string;
}

export class BlobStore {
  readonly dir: string;
  readonly tmpDir: string;

  /** @param imagesDir `<data-dir>/images` */
  constructor(imagesDir: string) {
    this.dir = join(imagesDir, 'blobs', 'sha256');
    this.tmpDir = join(imagesDir, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /** The file of a blob; throws for anything that is not a sha256 digest (no path games). */
  path(digest: string): string {
    if (!isDigest(digest)) throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `unsupported or malformed digest "${digest}"`, { ref: digest });
    return join(this.dir, digest.slice('sha256:'.length));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  /** Reads a (small) blob, such as a manifest or config, whole. */
  async read(digest: string, ref?: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (err) {
      throw new ImageError('HANGAR_ERR_IMAGE_NOT_FOUND', `blob ${digest}${ref ? ` of ${ref}` : ''} is not in the image store`, { ref: ref ?? digest, cause: err });
    }
  }

  /** Digests of every stored blob. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
    } catch {
      return [];
    }
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /**
   * Streams `source` into the store, hashing as it goes. On a digest or size mismatch the temp
   * file is deleted and `HANGAR_ERR_IMAGE_DIGEST` thrown: nothing half-written is ever visible.
   */
  async put(source: AsyncIterable<Uint8Array> | Uint8Array, opts: PutOptions = {}): Promise<BlobInfo> {
    const what = opts.ref ? ` of ${opts.ref}` : '';
    if (opts.digest !== undefined) this.path(opts.digest);
    const tmp = join(this.tmpDir, `blob-${process.pid}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'wx', 0o644);
    try {
      try {
        const chunks = source instanceof Uint8Array ? [source] : source;
        for await (const chunk of chunks) {
          size += chunk.byteLength;
          if (opts.size !== undefined && size > opts.size) {
            throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `blob ${opts.digest ?? ''}${what} is larger than the ${opts.size} bytes its descriptor declares`, { ref: opts.ref });
          }
          hash.update(chunk);
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = `sha256:${hash.digest('hex')}`;
      if (opts.digest !== undefined && digest !== opts.digest) {
        throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `blob${what} does not match its digest: expected ${opts.digest}, got ${digest}`, { ref: opts.ref });
      }
      if (opts.size !== undefined && size !== opts.size) {
        throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `blob ${digest}${what} has ${size} bytes, its descriptor declares ${opts.size}`, { ref: opts.ref });
      }
      await rename(tmp, this.path(digest));
      await syncDir(this.dir);
      return { digest, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
