/**
 * `/storage/<bucket>/<object>`: the stand-in for Cloud Storage behind Kaggle's signed download URLs. It
 * answers like Cloud Storage does: XML errors, 403 for a signature that does not match, 400 ExpiredToken for
 * one past its time, and on success the object with its MD5 as ETag and both digests in `x-goog-hash`, which
 * is what a URL list for Storage Transfer Service needs to learn from a HEAD.
 *
 * The one bucket, `kaggle-data-sets`, maps onto `<root>/kaggle/`.
 */
import path from 'node:path';
import { type ChecksumCache, type Checksums, googHash } from './checksums';
import { type Exchange, send } from './exchange';
import { decodeSegments, openRegularFile, resolveUnder, type ServeOptions, serveFile, wholeSeconds } from './files';
import { type UrlSigner } from './signing';

/** The URL prefix of signed downloads. */
export const STORAGE_PREFIX = '/storage/';
/** The bucket that holds Kaggle's zips, as in Kaggle's own signed URLs. */
export const KAGGLE_BUCKET = 'kaggle-data-sets';

/** What the signed download handler needs. */
export interface StorageContext {
  root: string;
  signer: UrlSigner;
  checksums: ChecksumCache;
}

/** The URL path of a Kaggle zip in the bucket; its segments are percent-encoded. */
export function kaggleObjectPath(owner: string, slug: string, version: number, zip: string): string {
  return `${STORAGE_PREFIX}${KAGGLE_BUCKET}/${[owner, slug, String(version), zip].map(encodeURIComponent).join('/')}`;
}

/** Answers a request under {@link STORAGE_PREFIX}. */
export async function handleStorage(ex: Exchange, ctx: StorageContext, options: ServeOptions): Promise<void> {
  if (ex.method !== 'GET' && ex.method !== 'HEAD') {
    sendStorageError(ex, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
      Allow: 'GET, HEAD',
    });
    return;
  }

  switch (ctx.signer.verify(ex.path, ex.query)) {
    case 'missing':
      // what Cloud Storage answers an anonymous read of a private object
      sendStorageError(ex, 403, 'AccessDenied', 'Access denied.', {}, 'Anonymous caller does not have access.');
      return;
    case 'mismatch':
      sendStorageError(
        ex,
        403,
        'SignatureDoesNotMatch',
        'Access denied.',
        {},
        'The request signature we calculated does not match the signature you provided.',
      );
      return;
    case 'expired':
      sendStorageError(ex, 400, 'ExpiredToken', 'Invalid argument.', {}, 'The provided token has expired.');
      return;
    case 'valid':
      break;
  }

  const [bucket, ...objectSegments] = ex.path.slice(STORAGE_PREFIX.length).split('/');
  if (bucket !== KAGGLE_BUCKET) {
    sendStorageError(ex, 404, 'NoSuchBucket', 'The specified bucket does not exist.');
    return;
  }
  const segments = decodeSegments(objectSegments);
  const file = segments && resolveUnder(path.join(ctx.root, 'kaggle'), segments);
  const opened = file ? await openRegularFile(file) : null;
  if (!file || !opened) {
    sendStorageError(ex, 404, 'NoSuchKey', 'The specified key does not exist.');
    return;
  }

  let sums: Checksums;
  try {
    sums = await ctx.checksums.get(file, opened.size, opened.mtimeMs);
  } catch (error) {
    await opened.handle.close();
    throw error;
  }
  const generation = Math.floor(opened.mtimeMs * 1000);
  await serveFile(
    ex,
    opened,
    {
      size: opened.size,
      etag: `"${sums.md5.toString('hex')}"`,
      lastModified: wholeSeconds(opened.mtimeMs),
      contentType: 'application/zip',
      headers: {
        'Cache-Control': 'private, max-age=0',
        'x-goog-generation': String(generation),
        'x-goog-metageneration': '1',
        'x-goog-stored-content-encoding': 'identity',
        'x-goog-stored-content-length': String(opened.size),
        'x-goog-hash': googHash(sums),
        'x-goog-storage-class': 'STANDARD',
      },
    },
    options,
  );
}

function sendStorageError(
  ex: Exchange,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  details?: string,
): void {
  const detail = details === undefined ? '' : `<Details>${escapeXml(details)}</Details>`;
  const error = `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${detail}</Error>`;
  const body = `<?xml version='1.0' encoding='UTF-8'?>${error}`;
  send(ex, status, { 'Content-Type': 'application/xml; charset=UTF-8', ...headers }, body);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}
