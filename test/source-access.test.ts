/**
 * Source access against the real origin over HTTP: both kinds of source, and every failure the step must
 * tell apart (missing, forbidden, unsuitable for Storage Transfer Service, unavailable), with no secret in
 * what it returns or logs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, type LogLevel, type LogMetadata } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeAccessSource, type AccessSourceInput } from '../src/activities/access-source';
import { presets } from '../src/dataset/presets';
import type { Origin } from '../src/origin/server';
import { loadKaggleCredentials } from '../src/source/kaggle';
import type { SourceManifest } from '../src/source/types';
import type { SampleManifest } from '../src/sample/layout';
import { freePort, KAGGLE_TEST_CREDENTIALS, smallSample, tempDir, testOrigin } from './helpers/fixtures';

let origin: Origin;
let sample: SampleManifest;
let sampleRoot: string;
const logged: string[] = [];
const kaggleEnv = { KAGGLE_USERNAME: KAGGLE_TEST_CREDENTIALS.username, KAGGLE_KEY: KAGGLE_TEST_CREDENTIALS.key };

before(async () => {
  ({ root: sampleRoot, manifest: sample } = await smallSample());
  origin = await testOrigin(sampleRoot);
});
after(() => origin.close());

function run(input: AccessSourceInput, env: NodeJS.ProcessEnv = kaggleEnv, timeoutMs = 2000): Promise<SourceManifest> {
  const logger = {
    log: (level: LogLevel, message: string, meta?: LogMetadata) =>
      logged.push(`${level} ${message} ${JSON.stringify(meta)}`),
    trace: (m: string, meta?: LogMetadata) => logger.log('TRACE', m, meta),
    debug: (m: string, meta?: LogMetadata) => logger.log('DEBUG', m, meta),
    info: (m: string, meta?: LogMetadata) => logger.log('INFO', m, meta),
    warn: (m: string, meta?: LogMetadata) => logger.log('WARN', m, meta),
    error: (m: string, meta?: LogMetadata) => logger.log('ERROR', m, meta),
  };
  const activity = makeAccessSource({ requestTimeoutMs: timeoutMs, concurrency: 2, env });
  return new MockActivityEnvironment(undefined, { logger }).run(activity, input);
}

function preset(name: string) {
  const found = presets({ originUrl: origin.url, kaggleApiUrl: `${origin.url}/api/v1` }).find((p) => p.name === name);
  assert.ok(found, name);
  return found;
}

function sampleFile(relative: string) {
  const file = sample.files.find((candidate) => candidate.path === relative);
  assert.ok(file, relative);
  return file;
}

async function rejectsWith(promise: Promise<unknown>, type: string, nonRetryable: boolean, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type);
    assert.equal(error.nonRetryable, nonRetryable);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('plain HTTP source', () => {
  test('describes every file as the origin serves it', async () => {
    const { source, datasetId } = preset('local-sample');
    const manifest = await run({ datasetId, source });
    assert.equal(manifest.source.kind, 'http');
    assert.deepEqual(
      manifest.files.map((file) => file.name),
      ['2019-Oct.csv.gz', '2019-Nov.csv.gz'],
    );
    for (const file of manifest.files) {
      const onDisk = sampleFile(`datasets/marketplace/${file.name}`);
      const stat = fs.statSync(path.join(sampleRoot, onDisk.path));
      assert.equal(file.size, onDisk.bytes);
      assert.equal(file.etag, `"${Math.floor(stat.mtimeMs / 1000).toString(16)}-${stat.size.toString(16)}"`);
      assert.equal(file.lastModified, new Date(Math.floor(stat.mtimeMs / 1000) * 1000).toISOString());
      assert.equal(file.acceptsRanges, true);
      assert.equal(file.packaging, 'gzip');
      assert.equal(file.md5, undefined, 'an nginx-like origin publishes no checksum');
    }
    assert.equal(manifest.totalBytes, manifest.files[0]!.size + manifest.files[1]!.size);
    assert.match(manifest.fingerprint, /^[0-9a-f]{64}$/);
  });

  test('the fingerprint is stable across looks and changes with the files', async () => {
    const { source, datasetId } = preset('local-sample');
    const first = await run({ datasetId, source });
    const second = await run({ datasetId, source });
    assert.equal(first.fingerprint, second.fingerprint);
    const one = await run({
      datasetId,
      source: { kind: 'http', urls: [source.kind === 'http' ? source.urls[0]! : ''] },
    });
    assert.notEqual(one.fingerprint, first.fingerprint);
  });

  test('reads Content-MD5 and x-goog-hash when the server sends them', async () => {
    const zip = sampleFile('kaggle/mkechinov/ecommerce-behavior-data-from-multi-category-store/8/2019-Oct.csv.zip');
    const { source } = preset('local-kaggle');
    const manifest = await run({ datasetId: 'k', source: { ...source, files: ['2019-Oct.csv'] } as typeof source });
    assert.equal(manifest.files[0]!.md5, zip.md5);
    assert.equal(manifest.files[0]!.crc32c, zip.crc32c);
  });

  const failures: [string, Parameters<Origin['faults']['set']>[1], string, boolean, RegExp][] = [
    [
      'a missing file',
      { status: 404 },
      'SourceNotFound',
      true,
      /2019-Oct\.csv\.gz: the source has no such file \(HTTP 404/,
    ],
    ['a forbidden file', { status: 403 }, 'SourceForbidden', true, /refuses access \(HTTP 403/],
    ['a gone file', { status: 410 }, 'SourceNotFound', true, /HTTP 410/],
    ['no Content-Length', { omitContentLength: true }, 'SourceUnsuitable', true, /no Content-Length/],
    ['no Range support', { ignoreRange: true }, 'SourceUnsuitable', true, /ignores Range requests/],
    ['a 503', { status: 503 }, 'SourceUnavailable', false, /unavailable \(HTTP 503/],
    ['a 500', { status: 500 }, 'SourceUnavailable', false, /HTTP 500/],
    ['a 429', { status: 429 }, 'SourceUnavailable', false, /HTTP 429/],
    ['a timeout', { delayMs: 1500 }, 'SourceUnavailable', false, /no answer within 0.5 s/],
  ];
  for (const [what, fault, type, nonRetryable, pattern] of failures) {
    test(`${what} fails as ${type}${nonRetryable ? ', not retried' : ', retried'}`, async () => {
      const { source, datasetId } = preset('local-sample');
      origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', fault);
      try {
        await rejectsWith(run({ datasetId, source }, kaggleEnv, 500), type, nonRetryable, pattern);
      } finally {
        origin.faults.clear();
      }
    });
  }

  test('a file that does not exist at all is SourceNotFound, naming it', async () => {
    const url = `${origin.url}/datasets/marketplace/2021-Jan.csv.gz`;
    await rejectsWith(
      run({ datasetId: 'x', source: { kind: 'http', urls: [url] } }),
      'SourceNotFound',
      true,
      /2021-Jan\.csv\.gz/,
    );
  });

  test('a refused connection is retryable', async () => {
    const url = `http://127.0.0.1:${await freePort()}/datasets/marketplace/2019-Oct.csv.gz`;
    await rejectsWith(
      run({ datasetId: 'x', source: { kind: 'http', urls: [url] } }),
      'SourceUnavailable',
      false,
      /ECONNREFUSED/,
    );
  });
});

describe('Kaggle source', () => {
  test('resolves the version, lists the files and probes the signed downloads', async () => {
    const { source, datasetId } = preset('local-kaggle');
    const manifest = await run({ datasetId, source });
    assert.deepEqual(manifest.source, {
      kind: 'kaggle',
      apiUrl: `${origin.url}/api/v1`,
      owner: 'mkechinov',
      slug: 'ecommerce-behavior-data-from-multi-category-store',
      version: 8,
    });
    assert.deepEqual(
      manifest.files.map((file) => file.name),
      ['2019-Oct.csv', '2019-Nov.csv'],
    );
    for (const file of manifest.files) {
      const zip = sampleFile(`kaggle/mkechinov/ecommerce-behavior-data-from-multi-category-store/8/${file.name}.zip`);
      const csv = sampleFile(`datasets/marketplace/${file.name}`);
      assert.equal(file.size, zip.bytes);
      assert.equal(file.md5, zip.md5);
      assert.equal(file.crc32c, zip.crc32c);
      assert.equal(file.uncompressedSize, csv.bytes);
      assert.equal(file.packaging, 'zip');
      assert.equal(file.etag, `"${Buffer.from(zip.md5, 'base64').toString('hex')}"`);
      assert.equal(
        file.url,
        `${origin.url}/api/v1/datasets/download/mkechinov/ecommerce-behavior-data-from-multi-category-store/` +
          `${file.name}?datasetVersionNumber=8`,
      );
    }
  });

  test('no signed URL and no credential in the manifest or the logs', async () => {
    logged.length = 0;
    const { source, datasetId } = preset('local-kaggle');
    const manifest = await run({ datasetId, source: { ...source, version: undefined } as typeof source });
    assert.equal(manifest.source.kind === 'kaggle' && manifest.source.version, 8, 'the current version is resolved');
    const text = JSON.stringify(manifest) + logged.join('\n');
    assert.ok(logged.length > 0, 'the activity logs its progress');
    for (const secret of ['X-Goog-Signature', 'X-Goog-Credential', KAGGLE_TEST_CREDENTIALS.key, '/storage/']) {
      assert.ok(!text.includes(secret), `"${secret}" leaked`);
    }
  });

  test('only the files asked for', async () => {
    const { source, datasetId } = preset('local-kaggle');
    const manifest = await run({ datasetId, source: { ...source, files: ['2019-Nov.csv'] } as typeof source });
    assert.deepEqual(
      manifest.files.map((file) => file.name),
      ['2019-Nov.csv'],
    );
  });

  test('an unknown file is SourceNotFound, listing what the dataset has', async () => {
    const { source, datasetId } = preset('local-kaggle');
    await rejectsWith(
      run({ datasetId, source: { ...source, files: ['2020-Jan.csv'] } as typeof source }),
      'SourceNotFound',
      true,
      /no file "2020-Jan\.csv"; it has "2019-Oct\.csv", "2019-Nov\.csv"/,
    );
  });

  test('an unknown version or dataset is SourceNotFound', async () => {
    const { source, datasetId } = preset('local-kaggle');
    await rejectsWith(
      run({ datasetId, source: { ...source, version: 99 } as typeof source }),
      'SourceNotFound',
      true,
      /version 99/,
    );
    await rejectsWith(
      run({ datasetId, source: { ...source, slug: 'no-such-dataset', version: undefined } as typeof source }),
      'SourceNotFound',
      true,
      /no-such-dataset/,
    );
  });

  test('wrong credentials are SourceForbidden; none at all is MissingCredential', async () => {
    const { source, datasetId } = preset('local-kaggle');
    await rejectsWith(
      run({ datasetId, source }, { KAGGLE_USERNAME: 'tester', KAGGLE_KEY: 'wrong' }),
      'SourceForbidden',
      true,
      /refused the credentials/,
    );
    const empty = tempDir('home');
    await rejectsWith(
      run({ datasetId, source }, { KAGGLE_CONFIG_DIR: empty }),
      'MissingCredential',
      true,
      /KAGGLE_USERNAME/,
    );
  });

  test('credentials from kaggle.json and from an API token', async () => {
    const dir = tempDir('kaggle');
    fs.writeFileSync(path.join(dir, 'kaggle.json'), JSON.stringify(KAGGLE_TEST_CREDENTIALS));
    const { source, datasetId } = preset('local-kaggle');
    const manifest = await run({ datasetId, source }, { KAGGLE_CONFIG_DIR: dir });
    assert.equal(manifest.files.length, 2);
    const viaToken = await run({ datasetId, source }, { KAGGLE_API_TOKEN: KAGGLE_TEST_CREDENTIALS.key });
    assert.equal(viaToken.files.length, 2);

    fs.writeFileSync(path.join(dir, 'kaggle.json'), '{"username": "x"');
    assert.throws(() => loadKaggleCredentials({ KAGGLE_CONFIG_DIR: dir }), /kaggle\.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'kaggle.json'), '{"username": "x"}');
    assert.throws(() => loadKaggleCredentials({ KAGGLE_CONFIG_DIR: dir }), /lacks "username" or "key"/);
  });

  test('a signed URL that fails is reported without its signature', async () => {
    const { source, datasetId } = preset('local-kaggle');
    const zipPath =
      '/storage/kaggle-data-sets/mkechinov/ecommerce-behavior-data-from-multi-category-store/8/2019-Oct.csv.zip';
    origin.faults.set(zipPath, { status: 503 });
    try {
      await assert.rejects(run({ datasetId, source }), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, 'SourceUnavailable');
        assert.match(error.message, /X-Goog-Signature=REDACTED/);
        assert.doesNotMatch(error.message, /X-Goog-Signature=[0-9a-f]{16}/);
        return true;
      });
    } finally {
      origin.faults.clear();
    }
  });
});
