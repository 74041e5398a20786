/**
 * Step 1 of a collection, source access: finds out exactly what the source offers (files, sizes,
 * checksums, ETags, dates, Range support) before anything is copied, and returns it as the source manifest.
 *
 * The manifest holds no secret: Kaggle files are named by the API's download URL, not by the signed URL it
 * redirects to, and every URL that reaches a log or a failure is redacted. Kaggle credentials are read here,
 * in the worker, and never travel through the workflow.
 */
import { createHash } from 'node:crypto';
import { heartbeat, log, cancellationSignal } from '@temporalio/activity';
import { failure } from '../failures';
import { redactUrl } from '../redact';
import { probeHttpFile, type ProbeOptions } from '../source/http';
import { KaggleApi, loadKaggleCredentials } from '../source/kaggle';
import type { HttpSourceSpec, KaggleSourceSpec, SourceFile, SourceManifest, SourceSpec } from '../source/types';

/** What source access needs. */
export interface AccessSourceInput {
  datasetId: string;
  source: SourceSpec;
}

/** Settings of the step, from the worker's configuration. */
export interface AccessSourceSettings {
  /** Limit for each HTTP request, in milliseconds. */
  requestTimeoutMs: number;
  /** Files probed at once. */
  concurrency: number;
  /** Where Kaggle credentials are read from. */
  env: NodeJS.ProcessEnv;
}

/** Heartbeat details: how many files have been probed, so the UI shows progress on many files. */
export interface AccessSourceHeartbeat {
  probed: number;
  total: number;
}

/** Makes the activity with its settings bound. */
export function makeAccessSource(settings: AccessSourceSettings) {
  return async function accessSource(input: AccessSourceInput): Promise<SourceManifest> {
    const options: ProbeOptions = { timeoutMs: settings.requestTimeoutMs, signal: cancellationSignal() };
    const { source } = input;
    const resolved =
      source.kind === 'http'
        ? await accessHttp(source, options, settings)
        : await accessKaggle(source, options, settings);
    const manifest: SourceManifest = {
      datasetId: input.datasetId,
      source: resolved.source,
      files: resolved.files,
      totalBytes: resolved.files.reduce((sum, file) => sum + file.size, 0),
      fingerprint: fingerprint(resolved.files),
      accessedAt: new Date().toISOString(),
    };
    log.info('source manifest ready', {
      dataset: input.datasetId,
      files: manifest.files.length,
      totalBytes: manifest.totalBytes,
      fingerprint: manifest.fingerprint,
    });
    return manifest;
  };
}

async function accessHttp(source: HttpSourceSpec, options: ProbeOptions, settings: AccessSourceSettings) {
  const files = await mapLimited(source.urls, settings.concurrency, async (url) => {
    const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || new URL(url).host);
    const probed = await probeHttpFile(url, name, options);
    const file: SourceFile = { name, url: redactUrl(url), ...probed };
    logProbed(file);
    return file;
  });
  return { source: { kind: 'http' as const }, files };
}

async function accessKaggle(source: KaggleSourceSpec, options: ProbeOptions, settings: AccessSourceSettings) {
  const api = new KaggleApi(source.apiUrl, loadKaggleCredentials(settings.env), options);
  const { owner, slug } = source;
  const version = source.version ?? (await api.currentVersion(owner, slug));
  const listed = await api.listFiles(owner, slug, version);
  let wanted = listed;
  if (source.files) {
    const missing = source.files.filter((name) => !listed.some((file) => file.name === name));
    if (missing.length > 0) {
      throw failure(
        'SourceNotFound',
        `Kaggle dataset ${owner}/${slug} version ${version} has no file ${missing.map((m) => `"${m}"`).join(', ')}; ` +
          `it has ${listed.map((file) => `"${file.name}"`).join(', ') || 'no files'}`,
      );
    }
    wanted = listed.filter((file) => source.files?.includes(file.name));
  }
  if (wanted.length === 0) {
    throw failure('SourceNotFound', `Kaggle dataset ${owner}/${slug} version ${version} has no files`);
  }

  const files = await mapLimited(wanted, settings.concurrency, async (listedFile) => {
    const signed = await api.signedUrl(owner, slug, listedFile.name, version);
    const probed = await probeHttpFile(signed, `Kaggle file ${listedFile.name}`, options);
    const file: SourceFile = {
      name: listedFile.name,
      url: api.downloadUrl(owner, slug, listedFile.name, version),
      ...probed,
      uncompressedSize: listedFile.totalBytes,
    };
    logProbed(file);
    return file;
  });
  return { source: { kind: 'kaggle' as const, apiUrl: source.apiUrl, owner, slug, version }, files };
}

function logProbed(file: SourceFile): void {
  log.info('source file probed', { file: file.name, url: file.url, size: file.size, etag: file.etag, md5: file.md5 });
}

/**
 * Runs `fn` on each item with at most `limit` at once, in order of the input. It heartbeats the count before
 * and after each item, so that a slow file (two requests, each up to the request timeout) stays within the
 * heartbeat timeout.
 */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const run = async () => {
    while (next < items.length) {
      const index = next++;
      heartbeat({ probed: done, total: items.length } satisfies AccessSourceHeartbeat);
      results[index] = await fn(items[index] as T);
      done += 1;
      heartbeat({ probed: done, total: items.length } satisfies AccessSourceHeartbeat);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}

/** The manifest's identity: what would make a copy differ, and nothing that changes between looks. */
function fingerprint(files: readonly SourceFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))) {
    hash.update(JSON.stringify([file.url, file.size, file.etag ?? null, file.md5 ?? null, file.crc32c ?? null]));
    hash.update('\n');
  }
  return hash.digest('hex');
}
