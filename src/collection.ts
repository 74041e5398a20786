/**
 * A collection request, checked at the edge: the client builds a {@link CollectInput} from a preset or
 * from flags, and everything is validated here before any workflow starts, with a message that names the
 * field. Also the identity of a collection: its workflow id derives from what is collected and where, so
 * that starting the same collection twice attaches to the first.
 */
import { createHash } from 'node:crypto';
import { checkBucketName } from './config';
import { urlHasSecret } from './redact';
import type { SourceSpec } from './source/types';
import type { CollectInput } from './workflows';

/** Bad input: the message names the field (a flag or a setting) and what is wrong with it. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

const DATASET_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const KAGGLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a collection request, throwing an {@link InputError} that names the first bad field. */
export function validateCollectInput(input: CollectInput): CollectInput {
  if (!DATASET_ID.test(input.datasetId)) {
    throw new InputError(
      `--dataset: "${input.datasetId}" is not a dataset id ` +
        '(lower-case letters, digits and "-", at most 63, starting with a letter or digit)',
    );
  }
  validateSource(input.source);
  const bucketProblem = checkBucketName(input.sink.bucket);
  if (bucketProblem) throw new InputError(`--bucket: ${bucketProblem}`);
  const { prefix } = input.sink;
  if (prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/') || prefix.includes('//'))) {
    throw new InputError(`--prefix: "${prefix}" must be empty or a path like "raw/" (no leading "/", ending in "/")`);
  }
  if (/[\r\n#[\]*?]/.test(prefix) || Buffer.byteLength(prefix) > 512) {
    throw new InputError(
      `--prefix: "${prefix}" has characters Cloud Storage object names should not hold, or is too long`,
    );
  }
  validateTransfer(input.transfer);
  return input;
}

/** The longest a transfer may be followed: a week, as long as a URL list's V4 signature lives. */
const MAX_DEADLINE_MS = 7 * 24 * 3600_000;

function validateTransfer(transfer: CollectInput['transfer']): void {
  const { pollIntervalMs, deadlineMs } = transfer ?? {};
  if (pollIntervalMs !== undefined && (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 100)) {
    throw new InputError(`--poll-interval: ${pollIntervalMs} ms is not a whole number of milliseconds of 100 or more`);
  }
  if (pollIntervalMs !== undefined && pollIntervalMs > 3600_000) {
    throw new InputError(`--poll-interval: ${pollIntervalMs} ms is longer than an hour`);
  }
  if (
    deadlineMs !== undefined &&
    (!Number.isInteger(deadlineMs) || deadlineMs < 1000 || deadlineMs > MAX_DEADLINE_MS)
  ) {
    throw new InputError(`--deadline: ${deadlineMs} ms is not between a second and 7 days`);
  }
  if (pollIntervalMs !== undefined && deadlineMs !== undefined && pollIntervalMs >= deadlineMs) {
    throw new InputError(`--poll-interval: ${pollIntervalMs} ms is not shorter than --deadline (${deadlineMs} ms)`);
  }
}

function validateSource(source: SourceSpec): void {
  if (source.kind === 'http') {
    if (source.urls.length === 0) throw new InputError('--url: give at least one URL');
    const seen = new Set<string>();
    for (const url of source.urls) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new InputError(`--url: "${url}" is not a URL`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new InputError(`--url: "${url}" is not http:// or https:// (Storage Transfer Service reads only those)`);
      }
      if (urlHasSecret(url)) {
        throw new InputError(
          `--url: a URL with a password, signature or token would be written to the workflow history; ` +
            `give public URLs, or a Kaggle source whose signed URLs the worker resolves itself`,
        );
      }
      if (seen.has(parsed.href)) throw new InputError(`--url: "${url}" is given twice`);
      seen.add(parsed.href);
    }
    return;
  }
  if (!KAGGLE_NAME.test(source.owner) || !KAGGLE_NAME.test(source.slug)) {
    throw new InputError(`--kaggle: "${source.owner}/${source.slug}" is not a Kaggle dataset (owner/slug)`);
  }
  if (source.version !== undefined && (!Number.isInteger(source.version) || source.version < 1)) {
    throw new InputError(`--version: "${source.version}" is not a positive whole number`);
  }
  for (const file of source.files ?? []) {
    if (!file || file.includes('/')) throw new InputError(`--file: "${file}" is not a file name of the dataset`);
  }
  try {
    const api = new URL(source.apiUrl);
    if (api.protocol !== 'http:' && api.protocol !== 'https:') throw new Error();
  } catch {
    throw new InputError(`COLETA_KAGGLE_API_URL: "${source.apiUrl}" is not an http(s) URL`);
  }
}

/**
 * The workflow id of a collection: the dataset id and a short hash of the source and sink. The same request
 * gives the same id, so a second start finds the first run (the client starts with conflict policy
 * USE_EXISTING); another bucket or another source gives a collection of its own.
 */
export function collectionWorkflowId(input: CollectInput): string {
  const hash = createHash('sha256')
    .update(canonicalJson([input.source, input.sink]))
    .digest('hex');
  return `collect-${input.datasetId}-${hash.slice(0, 10)}`;
}

/** JSON with object keys sorted, so that equal requests hash equally however their objects were built. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
