/**
 * Finds out what an HTTP(S) server offers for one file, without downloading it: a HEAD for the size,
 * checksums, ETag and dates, then a one-byte Range request to learn whether the server can resume a copy.
 * Storage Transfer Service needs both a Content-Length and Range support, so their absence is a failure
 * here rather than a surprise in the middle of a transfer.
 *
 * Every URL in a message or failure passes through {@link redactUrl}: a signed URL is a secret.
 */
import { failure } from '../failures';
import { redactUrl } from '../redact';
import type { Packaging, SourceFile } from './types';

/** How to probe. */
export interface ProbeOptions {
  /** Limit for each request, in milliseconds. */
  timeoutMs: number;
  /** Ends the probe early, as when the activity is cancelled. */
  signal?: AbortSignal;
}

/** What a probe learns about a file. */
export type ProbedFile = Omit<SourceFile, 'name' | 'url' | 'uncompressedSize'>;

/**
 * Probes the file at `url`. `label` names the file in failures (the URL itself may be a secret).
 * Throws a typed failure: SourceNotFound, SourceForbidden, SourceUnsuitable, or SourceUnavailable (retried).
 */
export async function probeHttpFile(url: string, label: string, options: ProbeOptions): Promise<ProbedFile> {
  const head = await request(url, label, 'HEAD', {}, options);
  // Some servers refuse HEAD; the Range probe below then tells the size through Content-Range.
  const headRefused = head.status === 405 || head.status === 501;
  if (!headRefused) expectSuccess(head, url, label);

  const ranged = await request(url, label, 'GET', { range: 'bytes=0-0' }, options);
  await ranged.body?.cancel();
  expectSuccess(ranged, url, label);
  const size = headRefused
    ? contentLength(ranged) !== undefined && ranged.status === 206
      ? contentRangeTotal(ranged.headers.get('content-range'))
      : undefined
    : contentLength(head);
  if (size === undefined) {
    throw failure(
      'SourceUnsuitable',
      `${label}: the server sends no Content-Length, which Storage Transfer Service requires (${redactUrl(url)})`,
      { file: label, missing: 'Content-Length' },
    );
  }
  if (ranged.status !== 206) {
    throw failure(
      'SourceUnsuitable',
      `${label}: the server ignores Range requests (answered ${ranged.status} to "Range: bytes=0-0"), ` +
        `which Storage Transfer Service requires to copy large files (${redactUrl(url)})`,
      { file: label, missing: 'Range' },
    );
  }

  const described = head.ok ? head : ranged;
  const hashes = googHashes(described.headers.get('x-goog-hash'));
  const md5 = validBase64(described.headers.get('content-md5'), 24) ?? hashes.md5;
  const contentType = described.headers.get('content-type') ?? undefined;
  const lastModified = described.headers.get('last-modified');
  return {
    size,
    md5,
    crc32c: hashes.crc32c,
    etag: described.headers.get('etag') ?? undefined,
    lastModified:
      lastModified && !Number.isNaN(Date.parse(lastModified)) ? new Date(lastModified).toISOString() : undefined,
    acceptsRanges: true,
    contentType,
    packaging: packagingOf(new URL(url).pathname, contentType),
  };
}

/**
 * Sends one request, turning a network error or a timeout into a retryable SourceUnavailable failure.
 * Redirects are followed, as Storage Transfer Service's fetcher does for the URLs of a URL list.
 */
export async function request(
  url: string,
  label: string,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
  options: ProbeOptions & { redirect?: 'follow' | 'manual' },
): Promise<Response> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    return await fetch(url, { method, headers, signal, redirect: options.redirect ?? 'follow' });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const reason = timeout.aborted
      ? `no answer within ${options.timeoutMs / 1000} s`
      : `the request failed (${describeNetworkError(error)})`;
    throw failure('SourceUnavailable', `${label}: ${reason} at ${redactUrl(url)}`, { file: label });
  }
}

/** Maps an unsuccessful status to its failure type; statuses that a later try may cure are retryable. */
export function expectSuccess(response: Response, url: string, label: string): void {
  const { status } = response;
  if (status >= 200 && status < 300) return;
  const where = `${redactUrl(url)}`;
  const details = { file: label, status };
  if (status === 404 || status === 410) {
    throw failure('SourceNotFound', `${label}: the source has no such file (HTTP ${status} at ${where})`, details);
  }
  if (status === 401 || status === 403) {
    throw failure('SourceForbidden', `${label}: the source refuses access (HTTP ${status} at ${where})`, details);
  }
  if (status === 408 || status === 429 || status >= 500) {
    throw failure('SourceUnavailable', `${label}: the source is unavailable (HTTP ${status} at ${where})`, details);
  }
  throw failure('SourceUnsuitable', `${label}: unexpected answer HTTP ${status} at ${where}`, details);
}

function contentLength(response: Response): number | undefined {
  const value = response.headers.get('content-length');
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

function contentRangeTotal(value: string | null): number | undefined {
  const match = value ? /^bytes \d+-\d+\/(\d+)$/.exec(value) : null;
  return match?.[1] ? Number(match[1]) : undefined;
}

/** Reads `x-goog-hash`, which Cloud Storage sends once per algorithm (fetch joins repeats with ", "). */
export function googHashes(value: string | null): { md5?: string; crc32c?: string } {
  const hashes: { md5?: string; crc32c?: string } = {};
  for (const part of (value ?? '').split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    const name = part.slice(0, separator).trim().toLowerCase();
    const digest = part.slice(separator + 1).trim();
    if (name === 'md5') hashes.md5 = validBase64(digest, 24);
    if (name === 'crc32c') hashes.crc32c = validBase64(digest, 8);
  }
  return hashes;
}

function validBase64(value: string | null | undefined, length: number): string | undefined {
  return value && value.length === length && /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? value : undefined;
}

function packagingOf(pathname: string, contentType: string | undefined): Packaging {
  if (/\.gz$/i.test(pathname) || contentType === 'application/gzip') return 'gzip';
  if (/\.zip$/i.test(pathname) || contentType === 'application/zip') return 'zip';
  return 'none';
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
