/**
 * The local HTTP origin against real clients: the built-in fetch (and raw node:http where fetch would
 * normalise the path first) talking to a real server on an ephemeral port, over a sample root made here.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { type KaggleDatasetRecord, KAGGLE_OWNER, KAGGLE_SLUG, kaggleDatasetDir } from '../src/sample/layout';
import { type Origin, startOrigin } from '../src/origin/server';

const USERNAME = 'tester';
const KEY = 'k3y-0123456789';
const MTIME = new Date('2023-05-22T12:34:56Z');
const GZ_PATH = '/datasets/marketplace/2019-Oct.csv.gz';
const CSV_PATH = '/datasets/marketplace/2019-Oct.csv';
const DATASET = `${KAGGLE_OWNER}/${KAGGLE_SLUG}`;

const gz = randomBytes(300_000);
const csv = Buffer.from('event_time,event_type\n2019-10-01 00:00:00 UTC,view\n');
const octZip = randomBytes(2_500_000); // over the checksum reader's 1 MiB chunks
const novZip = randomBytes(1_000);
const octZipV7 = randomBytes(5_000);

let tmp: string;
let origin: Origin;
const logLines: string[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'coleta-origin-'));
  const root = path.join(tmp, 'root');
  await writeFile(path.join(tmp, 'secret.txt'), 'TOP-SECRET');

  const marketplace = path.join(root, 'datasets', 'marketplace');
  await mkdir(marketplace, { recursive: true });
  await writeFile(path.join(marketplace, '2019-Oct.csv.gz'), gz);
  await utimes(path.join(marketplace, '2019-Oct.csv.gz'), MTIME, MTIME);
  await writeFile(path.join(marketplace, '2019-Oct.csv'), csv);

  const dir = kaggleDatasetDir(root, KAGGLE_OWNER, KAGGLE_SLUG);
  await mkdir(path.join(dir, '8'), { recursive: true });
  await mkdir(path.join(dir, '7'), { recursive: true });
  await writeFile(path.join(dir, '8', '2019-Oct.csv.zip'), octZip);
  await writeFile(path.join(dir, '8', '2019-Nov.csv.zip'), novZip);
  await writeFile(path.join(dir, '7', '2019-Oct.csv.zip'), octZipV7);
  const record: KaggleDatasetRecord = {
    ownerSlug: KAGGLE_OWNER,
    datasetSlug: KAGGLE_SLUG,
    title: 'eCommerce behavior data from multi category store',
    licenseName: 'Data files © Original Authors',
    currentVersionNumber: 8,
    lastUpdated: '2020-04-21T08:00:00.000Z',
    versions: [
      { versionNumber: 7, creationDate: '2020-01-01T00:00:00.000Z', versionNotes: 'older' },
      { versionNumber: 8, creationDate: '2020-04-21T08:00:00.000Z', versionNotes: 'newest' },
    ],
    files: [
      {
        name: '2019-Oct.csv',
        totalBytes: 5_668_612_855,
        creationDate: '2020-04-21T08:00:00.000Z',
        zip: '2019-Oct.csv.zip',
      },
      {
        name: '2019-Nov.csv',
        totalBytes: 9_006_762_395,
        creationDate: '2020-04-21T08:00:00.000Z',
        zip: '2019-Nov.csv.zip',
      },
    ],
  };
  await writeFile(path.join(dir, 'dataset.json'), JSON.stringify(record));

  origin = await startOrigin({ root, kaggle: { username: USERNAME, key: KEY }, log: (line) => logLines.push(line) });
});

after(async () => {
  await origin.close();
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => origin.faults.clear());

function get(urlPath: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${origin.url}${urlPath}`, init);
}

async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** A request whose path goes out exactly as written (fetch would resolve `..` first). */
function rawGet(urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(origin.url);
    const req = request({ host: url.hostname, port: url.port, path: urlPath, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

function basic(username: string, key: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}` };
}

const AUTH = basic(USERNAME, KEY);

function googHashOf(data: Buffer): string {
  const crc = new CRC32C();
  crc.update(data);
  return `crc32c=${crc.toString()},md5=${createHash('md5').update(data).digest('base64')}`;
}

async function signedUrl(file: string, query = ''): Promise<string> {
  const res = await get(`/api/v1/datasets/download/${DATASET}/${file}${query}`, { headers: AUTH, redirect: 'manual' });
  assert.equal(res.status, 302);
  const location = res.headers.get('location');
  assert.ok(location);
  return location;
}

test('binds to the loopback address on an ephemeral port', () => {
  assert.match(origin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(origin.port, 0);
  assert.equal(origin.url, `http://127.0.0.1:${origin.port}`);
});

test('HEAD of a dataset file gives nginx-style headers and no body', async () => {
  const res = await get(GZ_PATH, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(gz.length));
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  assert.equal(res.headers.get('content-type'), 'application/gzip');
  const etag = `"${(MTIME.getTime() / 1000).toString(16)}-${gz.length.toString(16)}"`;
  assert.equal(res.headers.get('etag'), etag);
  assert.equal(res.headers.get('last-modified'), MTIME.toUTCString());
  assert.equal((await bytesOf(res)).length, 0);
});

test('GET of a dataset file sends its exact bytes and content type', async () => {
  const res = await get(GZ_PATH);
  assert.equal(res.status, 200);
  assert.deepEqual(await bytesOf(res), gz);

  const text = await get(CSV_PATH);
  assert.equal(text.headers.get('content-type'), 'text/csv');
  assert.deepEqual(await bytesOf(text), csv);
});

test('a single range answers 206 with the exact slice', async () => {
  const size = gz.length;
  const cases = [
    { range: 'bytes=0-99', start: 0, end: 99 },
    { range: 'bytes=1000-70999', start: 1000, end: 70_999 },
    { range: 'bytes=-500', start: size - 500, end: size - 1 },
    { range: `bytes=${size - 1234}-`, start: size - 1234, end: size - 1 },
    { range: `bytes=${size - 10}-${size + 1000}`, start: size - 10, end: size - 1 },
  ];
  for (const { range, start, end } of cases) {
    const res = await get(GZ_PATH, { headers: { Range: range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
    assert.equal(res.headers.get('content-length'), String(end - start + 1), range);
    assert.deepEqual(await bytesOf(res), gz.subarray(start, end + 1), range);
  }
});

test('an unsatisfiable range answers 416 with the size', async () => {
  const res = await get(GZ_PATH, { headers: { Range: `bytes=${gz.length}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get('content-range'), `bytes */${gz.length}`);
  await res.arrayBuffer();
});

test('several ranges answer 200 with the whole file', async () => {
  const res = await get(GZ_PATH, { headers: { Range: 'bytes=0-9,100-109' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-range'), null);
  assert.deepEqual(await bytesOf(res), gz);
});

test('conditional requests: If-None-Match and If-Modified-Since answer 304', async () => {
  const etag = (await get(GZ_PATH, { method: 'HEAD' })).headers.get('etag') ?? '';
  const notModified = await get(GZ_PATH, { headers: { 'If-None-Match': etag } });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get('etag'), etag);
  assert.equal((await bytesOf(notModified)).length, 0);

  const since = await get(GZ_PATH, { headers: { 'If-Modified-Since': MTIME.toUTCString() } });
  assert.equal(since.status, 304);

  const other = await get(GZ_PATH, { headers: { 'If-None-Match': '"other"' } });
  assert.equal(other.status, 200);
  assert.deepEqual(await bytesOf(other), gz);

  const failed = await get(GZ_PATH, { headers: { 'If-Match': '"other"' } });
  assert.equal(failed.status, 412);
  await failed.arrayBuffer();
});

test('If-Range: a changed validator gets the whole file, a matching one the range', async () => {
  const etag = (await get(GZ_PATH, { method: 'HEAD' })).headers.get('etag') ?? '';
  const stale = await get(GZ_PATH, { headers: { Range: 'bytes=0-9', 'If-Range': '"5f000000-10"' } });
  assert.equal(stale.status, 200);
  assert.deepEqual(await bytesOf(stale), gz);

  const fresh = await get(GZ_PATH, { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
  assert.equal(fresh.status, 206);
  assert.deepEqual(await bytesOf(fresh), gz.subarray(0, 10));

  const byDate = await get(GZ_PATH, { headers: { Range: 'bytes=0-9', 'If-Range': MTIME.toUTCString() } });
  assert.equal(byDate.status, 206);
  await byDate.arrayBuffer();
  const oldDate = new Date(MTIME.getTime() - 1000).toUTCString();
  const byOldDate = await get(GZ_PATH, { headers: { Range: 'bytes=0-9', 'If-Range': oldDate } });
  assert.equal(byOldDate.status, 200);
  await byOldDate.arrayBuffer();
});

test('missing files and folders answer 404', async () => {
  for (const missing of ['/datasets/marketplace/2020-Jan.csv.gz', '/datasets/marketplace', '/datasets/marketplace/']) {
    const res = await get(missing);
    assert.equal(res.status, 404, missing);
    await res.arrayBuffer();
  }
  const unknown = await get('/nothing-here');
  assert.equal(unknown.status, 404);
  await unknown.arrayBuffer();
});

test('path traversal, plain or encoded, never leaves the root', async () => {
  const attempts = [
    '/datasets/../../secret.txt',
    '/datasets/marketplace/../../../secret.txt',
    '/datasets/%2e%2e/%2e%2e/secret.txt',
    '/datasets/..%2f..%2fsecret.txt',
    '/datasets/%2E%2E%5C%2E%2E%5Csecret.txt',
    '/datasets/%00',
    '/datasets/%zz',
  ];
  for (const attempt of attempts) {
    const res = await rawGet(attempt);
    assert.ok(res.status === 400 || res.status === 404, `${attempt} answered ${res.status}`);
    assert.doesNotMatch(res.body, /TOP-SECRET/, attempt);
  }
});

test('other methods answer 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await get(GZ_PATH, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get('allow'), 'GET, HEAD', method);
    await res.arrayBuffer();
  }
});

test('robots.txt allows everything and /healthz answers ok', async () => {
  const robots = await get('/robots.txt');
  assert.equal(robots.status, 200);
  const text = await robots.text();
  assert.match(text, /^User-agent: \*$/m);
  assert.match(text, /^Allow: \/$/m);
  assert.doesNotMatch(text, /Disallow: \//);

  const health = await get('/healthz');
  assert.equal(health.status, 200);
  assert.equal((await health.text()).trim(), 'ok');
});

test('Kaggle API refuses missing or wrong credentials with 401', async () => {
  const variants: Record<string, string>[] = [
    {},
    basic(USERNAME, 'wrong'),
    basic('someone', KEY),
    { Authorization: 'Bearer wrong' },
    { Authorization: 'Digest abc' },
  ];
  for (const headers of variants) {
    const res = await get(`/api/v1/datasets/view/${DATASET}`, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="kaggle"');
    const body = (await res.json()) as { code: number };
    assert.equal(body.code, 401);
  }
  const bearer = await get(`/api/v1/datasets/view/${DATASET}`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(bearer.status, 200);
  await bearer.arrayBuffer();
});

interface FileEntry {
  ref: string;
  datasetRef: string;
  ownerRef: string;
  name: string;
  creationDate: string;
  description: string;
  fileType: string;
  url: string;
  totalBytes: number;
  columns: unknown[];
}

test('Kaggle list gives the files of the current or of a named version', async () => {
  const res = await get(`/api/v1/datasets/list/${DATASET}`, { headers: AUTH });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { datasetFiles: FileEntry[]; errorMessage: null; nextPageToken: null };
  assert.equal(body.errorMessage, null);
  assert.equal(body.nextPageToken, null);
  assert.deepEqual(
    body.datasetFiles.map((file) => [file.name, file.totalBytes]),
    [
      ['2019-Oct.csv', 5_668_612_855],
      ['2019-Nov.csv', 9_006_762_395],
    ],
  );
  const [first] = body.datasetFiles;
  assert.ok(first);
  assert.deepEqual(first, {
    ref: '2019-Oct.csv',
    datasetRef: DATASET,
    ownerRef: KAGGLE_OWNER,
    name: '2019-Oct.csv',
    creationDate: '2020-04-21T08:00:00.000Z',
    description: '',
    fileType: '.csv',
    url: `${origin.url}/api/v1/datasets/download/${DATASET}/2019-Oct.csv`,
    totalBytes: 5_668_612_855,
    columns: [],
  });

  const older = await get(`/api/v1/datasets/list/${DATASET}?datasetVersionNumber=7`, { headers: AUTH });
  const olderBody = (await older.json()) as { datasetFiles: FileEntry[] };
  assert.deepEqual(
    olderBody.datasetFiles.map((file) => file.name),
    ['2019-Oct.csv'],
  );

  const unknown = await get(`/api/v1/datasets/list/${DATASET}?datasetVersionNumber=3`, { headers: AUTH });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { code: number }).code, 404);
});

test('Kaggle view gives the dataset with its files and versions', async () => {
  const res = await get(`/api/v1/datasets/view/${DATASET}`, { headers: AUTH });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown> & { files: FileEntry[]; versions: unknown[] };
  assert.equal(typeof body.id, 'number');
  assert.equal(body.ref, DATASET);
  assert.equal(body.ownerName, KAGGLE_OWNER);
  assert.equal(body.ownerRef, KAGGLE_OWNER);
  assert.equal(body.title, 'eCommerce behavior data from multi category store');
  assert.equal(typeof body.subtitle, 'string');
  assert.equal(typeof body.url, 'string');
  assert.equal(body.currentVersionNumber, 8);
  assert.equal(body.totalBytes, 5_668_612_855 + 9_006_762_395);
  assert.equal(body.lastUpdated, '2020-04-21T08:00:00.000Z');
  assert.equal(body.licenseName, 'Data files © Original Authors');
  assert.equal(body.isPrivate, false);
  assert.deepEqual(
    body.files.map((file) => file.name),
    ['2019-Oct.csv', '2019-Nov.csv'],
  );
  assert.deepEqual(body.versions, [
    {
      versionNumber: 8,
      creationDate: '2020-04-21T08:00:00.000Z',
      creatorName: KAGGLE_OWNER,
      status: 'Ready',
      versionNotes: 'newest',
    },
    {
      versionNumber: 7,
      creationDate: '2020-01-01T00:00:00.000Z',
      creatorName: KAGGLE_OWNER,
      status: 'Ready',
      versionNotes: 'older',
    },
  ]);
});

test('Kaggle answers 404 JSON for an unknown dataset, file or version', async () => {
  const paths = [
    `/api/v1/datasets/view/${KAGGLE_OWNER}/no-such-dataset`,
    `/api/v1/datasets/list/${KAGGLE_OWNER}/no-such-dataset`,
    `/api/v1/datasets/download/${DATASET}/2019-Dec.csv`,
    `/api/v1/datasets/download/${DATASET}/2019-Nov.csv?datasetVersionNumber=7`,
    `/api/v1/datasets/download/${DATASET}/2019-Oct.csv?datasetVersionNumber=99`,
    `/api/v1/datasets/download/${KAGGLE_OWNER}/no-such-dataset/2019-Oct.csv`,
  ];
  for (const urlPath of paths) {
    const res = await get(urlPath, { headers: AUTH, redirect: 'manual' });
    assert.equal(res.status, 404, urlPath);
    const body = (await res.json()) as { code: number; message: string };
    assert.equal(body.code, 404, urlPath);
    assert.equal(typeof body.message, 'string', urlPath);
  }
});

test('Kaggle download redirects to a signed URL that serves the zip like Cloud Storage', async () => {
  const location = await signedUrl('2019-Oct.csv');
  const url = new URL(location);
  assert.equal(url.origin, origin.url);
  assert.equal(url.pathname, `/storage/kaggle-data-sets/${DATASET}/8/2019-Oct.csv.zip`);
  assert.equal(url.searchParams.get('X-Goog-Algorithm'), 'GOOG4-RSA-SHA256');
  assert.match(url.searchParams.get('X-Goog-Credential') ?? '', /^.+\/\d{8}\/auto\/storage\/goog4_request$/);
  assert.match(url.searchParams.get('X-Goog-Date') ?? '', /^\d{8}T\d{6}Z$/);
  assert.equal(url.searchParams.get('X-Goog-Expires'), '259200');
  assert.equal(url.searchParams.get('X-Goog-SignedHeaders'), 'host');
  assert.match(url.searchParams.get('X-Goog-Signature') ?? '', /^[0-9a-f]{64}$/);

  const head = await fetch(location, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(octZip.length));
  assert.equal(head.headers.get('content-type'), 'application/zip');
  assert.equal(head.headers.get('x-goog-hash'), googHashOf(octZip));
  assert.equal(head.headers.get('etag'), `"${createHash('md5').update(octZip).digest('hex')}"`);
  assert.equal(head.headers.get('x-goog-stored-content-length'), String(octZip.length));
  assert.match(head.headers.get('x-goog-generation') ?? '', /^\d{16}$/);
  assert.ok(head.headers.get('last-modified'));
  assert.equal(head.headers.get('accept-ranges'), 'bytes');

  const body = await fetch(location);
  assert.equal(body.status, 200);
  assert.deepEqual(await bytesOf(body), octZip);

  const part = await fetch(location, { headers: { Range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-199/${octZip.length}`);
  assert.equal(part.headers.get('x-goog-hash'), googHashOf(octZip));
  assert.deepEqual(await bytesOf(part), octZip.subarray(100, 200));

  const cached = await fetch(location, { headers: { 'If-None-Match': head.headers.get('etag') ?? '' } });
  assert.equal(cached.status, 304);
});

test('Kaggle download of an older version, or with a bearer token, serves that zip', async () => {
  const older = await signedUrl('2019-Oct.csv', '?datasetVersionNumber=7');
  assert.equal(new URL(older).pathname, `/storage/kaggle-data-sets/${DATASET}/7/2019-Oct.csv.zip`);
  const res = await fetch(older);
  assert.equal(res.headers.get('x-goog-hash'), googHashOf(octZipV7));
  assert.deepEqual(await bytesOf(res), octZipV7);

  const bearer = await get(`/api/v1/datasets/download/${DATASET}/2019-Nov.csv`, {
    headers: { Authorization: `Bearer ${KEY}` },
    redirect: 'manual',
  });
  assert.equal(bearer.status, 302);
  const nov = await fetch(bearer.headers.get('location') ?? '');
  assert.deepEqual(await bytesOf(nov), novZip);
});

test('a tampered or missing signature answers 403 with a Cloud Storage XML error', async () => {
  const location = await signedUrl('2019-Oct.csv');
  const url = new URL(location);
  const signature = url.searchParams.get('X-Goog-Signature') ?? '';

  const forged = new URL(location);
  forged.searchParams.set('X-Goog-Signature', `${signature[0] === '0' ? '1' : '0'}${signature.slice(1)}`);
  const longer = new URL(location);
  longer.searchParams.set('X-Goog-Expires', '604800');
  const otherFile = new URL(location.replace('/8/2019-Oct.csv.zip', '/8/2019-Nov.csv.zip'));

  for (const attempt of [forged, longer, otherFile]) {
    const res = await fetch(attempt);
    assert.equal(res.status, 403, attempt.href);
    assert.match(res.headers.get('content-type') ?? '', /xml/);
    assert.match(await res.text(), /<Error><Code>SignatureDoesNotMatch<\/Code>/);
  }

  const bare = await fetch(`${url.origin}${url.pathname}`);
  assert.equal(bare.status, 403);
  assert.match(await bare.text(), /<Error><Code>AccessDenied<\/Code>/);
});

test('an expired signed URL answers 400 ExpiredToken', async () => {
  const shortLived = await startOrigin({
    root: path.join(tmp, 'root'),
    kaggle: { username: USERNAME, key: KEY },
    signedUrlTtlSeconds: 1,
  });
  try {
    const res = await fetch(`${shortLived.url}/api/v1/datasets/download/${DATASET}/2019-Nov.csv`, {
      headers: AUTH,
      redirect: 'manual',
    });
    const location = res.headers.get('location') ?? '';
    assert.equal(new URL(location).searchParams.get('X-Goog-Expires'), '1');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const expired = await fetch(location);
    assert.equal(expired.status, 400);
    assert.match(await expired.text(), /<Error><Code>ExpiredToken<\/Code>/);
  } finally {
    await shortLived.close();
  }
});

test('Kaggle API is absent without credentials configured', async () => {
  const bare = await startOrigin({ root: path.join(tmp, 'root') });
  try {
    const res = await fetch(`${bare.url}/api/v1/datasets/view/${DATASET}`, { headers: AUTH });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  } finally {
    await bare.close();
  }
});

test('fault: status replaces the answer until cleared', async () => {
  origin.faults.set(GZ_PATH, { status: 503 });
  for (let i = 0; i < 3; i++) {
    const res = await get(GZ_PATH);
    assert.equal(res.status, 503);
    await res.arrayBuffer();
  }
  const other = await get(CSV_PATH);
  assert.equal(other.status, 200);
  await other.arrayBuffer();

  origin.faults.clear();
  const healed = await get(GZ_PATH);
  assert.equal(healed.status, 200);
  await healed.arrayBuffer();
});

test('fault: times applies to the next N requests only', async () => {
  origin.faults.set(GZ_PATH, { status: 500, times: 2 });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await get(GZ_PATH, { method: 'HEAD' });
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [500, 500, 200]);
  assert.deepEqual(origin.faults.list(), []);
});

test('fault: omitContentLength streams without Content-Length, also on HEAD', async () => {
  origin.faults.set(GZ_PATH, { omitContentLength: true });
  const res = await get(GZ_PATH);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), null);
  assert.equal(res.headers.get('transfer-encoding'), 'chunked');
  assert.deepEqual(await bytesOf(res), gz);

  const head = await get(GZ_PATH, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), null);

  origin.faults.clear();
  const normal = await get(GZ_PATH, { method: 'HEAD' });
  assert.equal(normal.headers.get('content-length'), String(gz.length));
});

test('fault: ignoreRange answers 200 with the whole file and no Accept-Ranges', async () => {
  origin.faults.set(GZ_PATH, { ignoreRange: true });
  const res = await get(GZ_PATH, { headers: { Range: 'bytes=0-99' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('accept-ranges'), null);
  assert.equal(res.headers.get('content-range'), null);
  assert.deepEqual(await bytesOf(res), gz);
});

test('fault: delayMs holds the answer back', async () => {
  origin.faults.set(CSV_PATH, { delayMs: 300 });
  const started = performance.now();
  const res = await get(CSV_PATH);
  const elapsed = performance.now() - started;
  assert.equal(res.status, 200);
  assert.deepEqual(await bytesOf(res), csv);
  assert.ok(elapsed >= 290, `answered after ${elapsed} ms`);
});

test('a client that leaves during a delay is logged as aborted, and the origin carries on', async () => {
  origin.faults.set(CSV_PATH, { delayMs: 300 });
  await assert.rejects(get(CSV_PATH, { signal: AbortSignal.timeout(50) }), { name: 'TimeoutError' });
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.match(logLines.at(-1) ?? '', new RegExp(`^GET ${CSV_PATH} - bytes=0 ms=\\d+ aborted$`));

  origin.faults.clear();
  const res = await get(CSV_PATH);
  assert.equal(res.status, 200);
  assert.deepEqual(await bytesOf(res), csv);
});

test('close ends active connections at once', async () => {
  const closing = await startOrigin({ root: path.join(tmp, 'root') });
  closing.faults.set(GZ_PATH, { delayMs: 5_000 });
  const pending = fetch(`${closing.url}${GZ_PATH}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  await closing.close();
  assert.ok(performance.now() - started < 1_000, 'close waited for the delayed answer');
  await assert.rejects(pending);
  await assert.rejects(fetch(`${closing.url}/healthz`));
});

test('fault: applies to signed downloads, matched by path without the query', async () => {
  const location = await signedUrl('2019-Oct.csv');
  origin.faults.set(new URL(location).pathname, { status: 403, times: 1 });
  const refused = await fetch(location);
  assert.equal(refused.status, 403);
  await refused.arrayBuffer();
  const served = await fetch(location);
  assert.equal(served.status, 200);
  await served.arrayBuffer();
});

test('fault table validates what it is given', () => {
  assert.throws(() => origin.faults.set('no-slash', { status: 500 }), /path/);
  assert.throws(() => origin.faults.set(GZ_PATH, { status: 42 }), /status/);
  assert.throws(() => origin.faults.set(GZ_PATH, { times: 0, status: 500 }), /times/);
  assert.throws(() => origin.faults.set(GZ_PATH, {}), /at least one/);
  assert.deepEqual(origin.faults.list(), []);
});

test('admin endpoint sets, lists and clears faults, and names bad fields', async () => {
  const post = (body: string) =>
    get('/_admin/faults', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });

  const created = await post(JSON.stringify({ path: CSV_PATH, status: 500, times: 2 }));
  assert.equal(created.status, 201);
  assert.deepEqual(await created.json(), { path: CSV_PATH, status: 500, times: 2 });

  const failing = await get(CSV_PATH);
  assert.equal(failing.status, 500);
  await failing.arrayBuffer();
  const listed = await get('/_admin/faults');
  assert.deepEqual(await listed.json(), { faults: [{ path: CSV_PATH, status: 500, times: 1 }] });

  const cleared = await get('/_admin/faults', { method: 'DELETE' });
  assert.equal(cleared.status, 204);
  assert.deepEqual(origin.faults.list(), []);
  const healed = await get(CSV_PATH);
  assert.equal(healed.status, 200);
  await healed.arrayBuffer();

  const bad: [string, string][] = [
    ['{not json', 'body'],
    [JSON.stringify({ path: CSV_PATH, status: 'x' }), 'status'],
    [JSON.stringify({ path: CSV_PATH, delayMs: -1 }), 'delayMs'],
    [JSON.stringify({ path: CSV_PATH, ignoreRange: 'yes' }), 'ignoreRange'],
    [JSON.stringify({ path: CSV_PATH, status: 500, colour: 'red' }), 'colour'],
    [JSON.stringify({ path: 'relative', status: 500 }), 'path'],
    [JSON.stringify({ status: 500 }), 'path'],
  ];
  for (const [body, field] of bad) {
    const res = await post(body);
    assert.equal(res.status, 400, body);
    const answer = (await res.json()) as { error: string; field: string };
    assert.equal(answer.field, field, body);
    assert.match(answer.error, new RegExp(`^${field}: `), body);
  }
  assert.deepEqual(origin.faults.list(), []);
});

test('the access log has one line per request and never a signature', async () => {
  const location = await signedUrl('2019-Nov.csv');
  const before = logLines.length;
  await (await fetch(location)).arrayBuffer();
  await new Promise((resolve) => setImmediate(resolve));

  const storagePath = new URL(location).pathname;
  assert.deepEqual(
    logLines.slice(before).map((line) => line.replace(/ms=\d+$/, 'ms=N')),
    [`GET ${storagePath} 200 bytes=${novZip.length} ms=N`],
  );
  assert.ok(logLines.length > 50, `only ${logLines.length} lines`);
  for (const line of logLines) {
    assert.doesNotMatch(line, /X-Goog-Signature|\?/, line);
  }
});
