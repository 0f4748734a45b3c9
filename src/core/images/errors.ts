/**
 * Coded errors of the ImageStore (codes registered in `src/core/errors.ts`), with `ref` naming
 * the image, digest or archive the failure is about.
 */
import { HangarError, type ErrorCode } from '../errors.js';

export type ImageErrorCode = Extract<ErrorCode, `HANGAR_ERR_IMAGE_${string}`>;

/** An image failure with the reference (or archive) it concerns. */
export class ImageError extends HangarError {
  declare readonly code: ImageErrorCode;
  /** The image reference, digest or archive path the error is about, when there is one. */
  readonly ref: string | undefined;

  constructor(code: ImageErrorCode, message: string, opts: { ref?: string; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? {} : { cause: opts.cause });
    this.name = 'ImageError';
    this.ref = opts.ref;
  }
}

export function isImageError(err: unknown): err is ImageError {
  return err instanceof ImageError;
}
