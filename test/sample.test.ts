/**
 * The local sample generator, checked on files it writes into fresh temporary folders: the layout, the
 * schema and shares of the rows, determinism, the gzip and zip against the CSV, the manifest against an
 * independent recomputation, the fast path, and byte sizes as configuration gives them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { CRC32C } from '@google-cloud/storage';
import { crc32 } from '@node-rs/crc32';
import { COLUMNS, EVENT_TIME_PATTERN, HEADER, MONTHS, USER_SESSION_PATTERN } from '../src/dataset/schema';
import { generateSample, parseByteSize } from '../src/sample/generate';
import {
  KAGGLE_OWNER,
  KAGGLE_SLUG,
  KAGGLE_VERSION,
  type KaggleDatasetRecord,
  type SampleManifest,
  kaggleDatasetDir,
  manifestPath,
} from '../src/sample/layout';

/** Published shares (see the dataset reference). */
const SHARES: Record<string, { view: number; cart: number; purchase: number; emptyCategoryCode: number }> = {
  '2019-Oct': { view: 0.9607, cart: 0.0218, purchase: 0.0175, emptyCategoryCode: 0.318 },
  '2019-Nov': { view: 0.9415, cart: 0.0449, purchase: 0.0136, emptyCategoryCode: 0.324 },
};
const TWO_POW_53 = 2n ** 53n;

let scratch: string;
/** Two months of about 5 MB each: enough rows for shares. */
let large: { root: string; manifest: SampleManifest };
/** A month of a few rows. */
let tiny: { root: string; manifest: SampleManifest };

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'coleta-sample-test-'));
  large = await sample('large', { bytesPerMonth: 5_000_000 });
  tiny = await sample('tiny', { bytesPerMonth: 2_000, months: ['2020-Apr'], seed: 3 });
});

after(() => fs.rmSync(scratch, { recursive: true, force: true }));

async function sample(
  name: string,
  options: { bytesPerMonth: number; months?: string[]; seed?: number },
): Promise<{ root: string; manifest: SampleManifest }> {
  const root = path.join(scratch, name);
  return { root, manifest: await generateSample({ root, ...options }) };
}

/** The CSV files of a sample, by month. */
function csvFiles(root: string, manifest: SampleManifest): { month: string; file: string }[] {
  return manifest.months.map((month) => ({ month, file: path.join(root, 'datasets', 'marketplace', `${month}.csv`) }));
}

/** The data lines of a CSV (checked elsewhere to end with a newline). */
function dataLines(file: string): string[] {
  const lines = fs.readFileSync(file, 'latin1').split('\n');
  return lines.slice(1, -1);
}

interface Row {
  eventTime: string;
  eventType: string;
  productId: string;
  categoryId: string;
  categoryCode: string;
  brand: string;
  price: string;
  userId: string;
  userSession: string;
}

function rows(file: string): Row[] {
  return dataLines(file).map((line) => {
    const [eventTime, eventType, productId, categoryId, categoryCode, brand, price, userId, userSession] = line.split(
      ',',
    ) as [string, string, string, string, string, string, string, string, string];
    return { eventTime, eventType, productId, categoryId, categoryCode, brand, price, userId, userSession };
  });
}

/** Every sample the tests generated once, for checks that hold on all of them. */
function allCsv(): { month: string; file: string }[] {
  return [...csvFiles(large.root, large.manifest), ...csvFiles(tiny.root, tiny.manifest)];
}

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

test('writes the documented layout and nothing else', () => {
  const kaggle = `kaggle/${KAGGLE_OWNER}/${KAGGLE_SLUG}`;
  assert.deepEqual(
    listFiles(large.root),
    [
      'datasets/marketplace/2019-Nov.csv',
      'datasets/marketplace/2019-Nov.csv.gz',
      'datasets/marketplace/2019-Oct.csv',
      'datasets/marketplace/2019-Oct.csv.gz',
      `${kaggle}/${KAGGLE_VERSION}/2019-Nov.csv.zip`,
      `${kaggle}/${KAGGLE_VERSION}/2019-Oct.csv.zip`,
      `${kaggle}/dataset.json`,
      'manifest.json',
    ].sort(),
  );
  assert.deepEqual(large.manifest.months, ['2019-Oct', '2019-Nov']);
  assert.equal(large.manifest.seed, 46);
  assert.equal(large.manifest.bytesPerMonth, 5_000_000);
});

test('every row has the nine columns of the header, LF line ends and a final newline', () => {
  for (const { file } of allCsv()) {
    const text = fs.readFileSync(file, 'latin1');
    assert.ok(text.startsWith(`${HEADER}\n`), `${file} starts with the header`);
    assert.ok(text.endsWith('\n'), `${file} ends with a newline`);
    assert.ok(!text.includes('\r'), `${file} has no CR`);
    assert.ok(!text.includes('"'), `${file} has no quoting`);
    const lines = dataLines(file);
    assert.ok(lines.length > 0);
    for (const line of lines) assert.equal(line.split(',').length, COLUMNS.length, line);
  }
});

test('every field has its format and range', () => {
  for (const { month, file } of allCsv()) {
    const start = Date.parse(`${MONTHS.find((m) => m.name === month)?.start ?? 'none'}T00:00:00Z`);
    const end = new Date(start);
    end.setUTCMonth(end.getUTCMonth() + 1);
    for (const row of rows(file)) {
      const context = JSON.stringify(row);
      assert.match(row.eventTime, EVENT_TIME_PATTERN, context);
      const time = Date.parse(row.eventTime.replace(' UTC', 'Z').replace(' ', 'T'));
      assert.ok(time >= start && time < end.getTime(), `time within ${month}: ${context}`);
      assert.ok(['view', 'cart', 'purchase'].includes(row.eventType), context);
      assert.match(row.productId, /^[1-9]\d*$/, context);
      assert.ok(Number(row.productId) >= 1_000_978 && Number(row.productId) <= 100_063_693, context);
      assert.match(row.categoryId, /^[1-9]\d{18}$/, context);
      const categoryId = BigInt(row.categoryId);
      assert.ok(categoryId >= 2_050_000_000_000_000_000n && categoryId <= 2_240_000_000_000_000_000n, context);
      if (row.categoryCode !== '') assert.match(row.categoryCode, /^[a-z_]+(\.[a-z_]+){1,3}$/, context);
      if (row.brand !== '') assert.match(row.brand, /^[a-z0-9][a-z0-9_-]*$/, context);
      assert.match(row.price, /^\d+\.\d\d$/, context);
      assert.ok(Number(row.price) >= 0 && Number(row.price) <= 2574.07, context);
      assert.match(row.userId, /^[1-9]\d*$/, context);
      assert.ok(Number(row.userId) >= 150_000_000 && Number(row.userId) <= 580_000_000, context);
      assert.ok(Number(row.userId) < 2 ** 31, context);
      if (row.userSession !== '') {
        assert.match(row.userSession, USER_SESSION_PATTERN, context);
        assert.match(row.userSession, /^.{14}4.{4}[89ab]/, `UUID version 4: ${context}`);
      }
    }
  }
});

test('rows are in time order, start at midnight of the first day and cover the whole month', () => {
  for (const { month, file } of csvFiles(large.root, large.manifest)) {
    const times = rows(file).map((row) => row.eventTime);
    const start = MONTHS.find((m) => m.name === month)?.start;
    assert.equal(times[0], `${start} 00:00:00 UTC`);
    for (let i = 1; i < times.length; i++) assert.ok((times[i - 1] as string) <= (times[i] as string), times[i]);
    const days = new Set(times.map((time) => time.slice(0, 10)));
    const daysInMonth = new Date(Date.UTC(Number(start?.slice(0, 4)), Number(start?.slice(5, 7)), 0)).getUTCDate();
    assert.equal(days.size, daysInMonth, `${month}: rows on every day`);
    const hours = new Set(times.map((time) => time.slice(0, 13)));
    assert.ok(hours.size > daysInMonth * 24 * 0.95, `${month}: rows in nearly every hour (${hours.size})`);
  }
  const tinyTimes = rows(csvFiles(tiny.root, tiny.manifest)[0]?.file ?? '').map((row) => row.eventTime);
  assert.equal(tinyTimes[0], '2020-04-01 00:00:00 UTC');
  assert.ok((tinyTimes.at(-1) ?? '') >= '2020-04-25', `a tiny month still spreads over the month: ${tinyTimes.at(-1)}`);
});

test('event types and empty fields come at the published shares', () => {
  for (const { month, file } of csvFiles(large.root, large.manifest)) {
    const all = rows(file);
    const share = (predicate: (row: Row) => boolean): number => all.filter(predicate).length / all.length;
    const expected = SHARES[month];
    assert.ok(expected && all.length > 30_000, `${month}: ${all.length} rows`);
    const view = share((row) => row.eventType === 'view');
    const cart = share((row) => row.eventType === 'cart');
    const purchase = share((row) => row.eventType === 'purchase');
    assert.ok(Math.abs(view - expected.view) < 0.006, `${month} view ${view}`);
    assert.ok(Math.abs(cart - expected.cart) < 0.004, `${month} cart ${cart}`);
    assert.ok(Math.abs(purchase - expected.purchase) < 0.004, `${month} purchase ${purchase}`);
    const emptyCode = share((row) => row.categoryCode === '');
    assert.ok(Math.abs(emptyCode - expected.emptyCategoryCode) < 0.025, `${month} empty category_code ${emptyCode}`);
    const emptyBrand = share((row) => row.brand === '');
    assert.ok(emptyBrand > 0.1 && emptyBrand < 0.165, `${month} empty brand ${emptyBrand}`);
    const free = share((row) => Number(row.price) <= 0);
    assert.ok(free > 0.0014 && free < 0.0045, `${month} price <= 0 ${free}`);
  }
});

test('every month has an empty user_session, a price <= 0 and a repeated row, even a tiny one', () => {
  for (const { month, file } of allCsv()) {
    const lines = dataLines(file);
    const all = rows(file);
    const emptySessions = all.filter((row) => row.userSession === '').length;
    assert.ok(emptySessions >= 1 && emptySessions <= 3, `${month}: ${emptySessions} rows without a session`);
    assert.ok(
      all.some((row) => Number(row.price) <= 0),
      `${month}: a price <= 0`,
    );
    let repeats = 0;
    for (let i = 1; i < lines.length; i++) if (lines[i] === lines[i - 1]) repeats++;
    assert.ok(repeats >= 1, `${month}: a repeated row`);
    if (lines.length > 10_000) {
      const perThousand = (repeats / lines.length) * 1000;
      assert.ok(perThousand > 0.5 && perThousand < 10, `${month}: ${perThousand} repeated rows per thousand`);
    }
  }
});

test('category_id is exact beyond 2^53, and each one means a single category_code', () => {
  const codes = new Map<string, string>();
  let inexactAsNumber = 0;
  for (const { file } of csvFiles(large.root, large.manifest)) {
    for (const row of rows(file)) {
      const id = BigInt(row.categoryId);
      assert.ok(id > TWO_POW_53, row.categoryId);
      assert.equal(id.toString(), row.categoryId);
      if (BigInt(Number(row.categoryId)) !== id) inexactAsNumber++;
      const code = codes.get(row.categoryId) ?? row.categoryCode;
      assert.equal(row.categoryCode, code, `category ${row.categoryId}`);
      codes.set(row.categoryId, code);
    }
  }
  assert.ok(inexactAsNumber > 0, 'some ids cannot be held by a double, so they were not made through one');
  assert.ok(codes.size > 100, `${codes.size} categories`);
  const levels = new Set([...codes.values()].filter(Boolean).map((code) => code.split('.').length));
  assert.deepEqual([...levels].sort(), [2, 3, 4]);
});

test("a user's events are grouped into sessions of that user", () => {
  for (const { month, file } of csvFiles(large.root, large.manifest)) {
    const owner = new Map<string, string>();
    const all = rows(file).filter((row) => row.userSession !== '');
    for (const row of all) {
      assert.equal(owner.get(row.userSession) ?? row.userId, row.userId, `session ${row.userSession}`);
      owner.set(row.userSession, row.userId);
    }
    const perSession = all.length / owner.size;
    assert.ok(perSession > 2 && perSession < 10, `${month}: ${perSession} events per session`);
    assert.ok(new Set(owner.values()).size < owner.size, `${month}: some users have several sessions`);
  }
});

test('the same seed gives the same files, another seed other files', async () => {
  const options = { bytesPerMonth: 300_000, months: ['2019-Nov', '2020-Jan'] };
  const first = await sample('seed-a', options);
  const again = await sample('seed-b', options);
  const other = await sample('seed-c', { ...options, seed: 47 });
  const digests = (manifest: SampleManifest): string[] => manifest.files.map((file) => `${file.path} ${file.md5}`);
  assert.deepEqual(digests(again.manifest), digests(first.manifest));
  for (const [index, file] of first.manifest.files.entries()) {
    const path_ = path.join(first.root, file.path);
    assert.ok(fs.readFileSync(path_).equals(fs.readFileSync(path.join(again.root, file.path))), file.path);
    assert.notEqual(other.manifest.files[index]?.md5, file.md5, `seed 47 changes ${file.path}`);
  }
});

test('the .csv.gz inflates to the .csv', () => {
  for (const { file } of allCsv()) {
    const gzip = fs.readFileSync(`${file}.gz`);
    assert.deepEqual([...gzip.subarray(0, 3)], [0x1f, 0x8b, 0x08], 'a gzip header');
    assert.ok(gunzipSync(gzip).equals(fs.readFileSync(file)), file);
    assert.ok(gzip.length < fs.statSync(file).size / 2, 'compressed');
  }
});

test('the zip holds exactly the CSV, deflated, under its name', () => {
  for (const { month, file } of allCsv()) {
    const root = file.includes(`${path.sep}tiny${path.sep}`) ? tiny.root : large.root;
    const zipFile = path.join(
      kaggleDatasetDir(root, KAGGLE_OWNER, KAGGLE_SLUG),
      String(KAGGLE_VERSION),
      `${month}.csv.zip`,
    );
    const entries = readZip(fs.readFileSync(zipFile));
    assert.equal(entries.length, 1);
    const csv = fs.readFileSync(file);
    assert.equal(entries[0]?.name, `${month}.csv`);
    assert.equal(entries[0]?.method, 8, 'deflated');
    assert.equal(entries[0]?.crc32, crc32(csv) >>> 0);
    assert.ok(entries[0]?.data.equals(csv), zipFile);
  }
});

/** The entries of a zip, read through its central directory (zip64 not needed at these sizes). */
function readZip(zip: Buffer): { name: string; method: number; crc32: number; data: Buffer }[] {
  const end = zip.length - 22;
  assert.equal(zip.readUInt32LE(end), 0x06054b50, 'end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, 'central directory record');
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    assert.equal(zip.readUInt32LE(local), 0x04034b50, 'local header');
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(dataStart, dataStart + compressed);
    entries.push({ name, method, crc32: crc, data: method === 8 ? inflateRawSync(raw) : raw });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

test('the manifest matches an independent recomputation from the files on disk', async () => {
  for (const { root, manifest } of [large, tiny]) {
    assert.deepEqual(JSON.parse(fs.readFileSync(manifestPath(root), 'utf8')), manifest);
    assert.equal(manifest.files.length, manifest.months.length * 3);
    for (const file of manifest.files) {
      const onDisk = path.join(root, file.path);
      const bytes = fs.readFileSync(onDisk);
      assert.equal(file.bytes, bytes.length, file.path);
      assert.equal(file.md5, createHash('md5').update(bytes).digest('base64'), file.path);
      assert.equal(file.crc32c, (await CRC32C.fromFile(onDisk)).toString(), file.path);
      const csv = path.join(root, 'datasets', 'marketplace', `${path.basename(file.path).split('.')[0]}.csv`);
      assert.equal(file.rows, dataLines(csv).length, file.path);
    }
  }
});

test('dataset.json describes the Kaggle dataset and its files', () => {
  const record = JSON.parse(
    fs.readFileSync(path.join(kaggleDatasetDir(large.root, KAGGLE_OWNER, KAGGLE_SLUG), 'dataset.json'), 'utf8'),
  ) as KaggleDatasetRecord;
  assert.equal(record.ownerSlug, KAGGLE_OWNER);
  assert.equal(record.datasetSlug, KAGGLE_SLUG);
  assert.equal(record.title, 'eCommerce behavior data from multi-category store');
  assert.equal(record.licenseName, 'Data files © Original Authors');
  assert.equal(record.currentVersionNumber, 8);
  assert.deepEqual(
    record.versions.map((version) => version.versionNumber),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  const dates = record.versions.map((version) => Date.parse(version.creationDate));
  assert.ok(
    dates.every((date, i) => i === 0 || date > (dates[i - 1] as number)),
    'versions in date order',
  );
  assert.equal(record.lastUpdated, record.versions.at(-1)?.creationDate);
  assert.deepEqual(
    record.files.map((file) => [file.name, file.totalBytes, file.zip]),
    large.manifest.months.map((month) => [
      `${month}.csv`,
      large.manifest.files.find((file) => file.path.endsWith(`/${month}.csv`))?.bytes,
      `${month}.csv.zip`,
    ]),
  );
});

test('a second call with the same settings touches nothing; a changed file is made again', async () => {
  const options = { bytesPerMonth: 200_000, months: ['2019-Oct'] };
  const { root, manifest } = await sample('again', options);
  const times = (): string[] => listFiles(root).map((file) => `${file} ${fs.statSync(path.join(root, file)).mtimeMs}`);
  const before_ = times();

  const started = performance.now();
  const again = await generateSample({ root, ...options });
  assert.ok(performance.now() - started < 200, 'fast');
  assert.deepEqual(again, manifest);
  assert.deepEqual(times(), before_);

  const gzip = path.join(root, 'datasets', 'marketplace', '2019-Oct.csv.gz');
  fs.truncateSync(gzip, 10);
  const regenerated = await generateSample({ root, ...options });
  assert.notEqual(regenerated.generatedAt, manifest.generatedAt);
  assert.equal(fs.statSync(gzip).size, manifest.files[1]?.bytes);
  assert.deepEqual(
    regenerated.files.map((file) => file.md5),
    manifest.files.map((file) => file.md5),
  );
});

test('a failed run leaves no file that looks finished', async () => {
  const root = path.join(scratch, 'failed');
  const failure = new Error('stop here');
  await assert.rejects(
    generateSample({
      root,
      bytesPerMonth: 2_000_000,
      onProgress: () => {
        throw failure;
      },
    }),
    failure,
  );
  assert.deepEqual(
    listFiles(root).filter((file) => /\.(csv|gz|zip|json|partial)$/.test(file)),
    [],
  );
});

test('bad options are refused', async () => {
  const root = path.join(scratch, 'refused');
  await assert.rejects(generateSample({ root, months: ['2019-Sep'] }), /2019-Sep/);
  await assert.rejects(generateSample({ root, seed: -1 }), RangeError);
  await assert.rejects(generateSample({ root, bytesPerMonth: 0 }), RangeError);
  assert.equal(fs.existsSync(root), false);
});

test('parseByteSize reads sizes as configuration writes them and names bad text', () => {
  const good: [string, number][] = [
    ['2MiB', 2 * 1024 * 1024],
    ['5MB', 5_000_000],
    ['1GB', 1_000_000_000],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['500kB', 500_000],
    ['1048576', 1_048_576],
    ['1.1MB', 1_100_000],
    [' 64 KiB ', 65_536],
  ];
  for (const [text, bytes] of good) assert.equal(parseByteSize(text), bytes, text);
  for (const text of ['', 'MB', '2mb', '5 MiBs', '-1MB', '1e6', '1.5B', 'two MB', '9007199254740993']) {
    assert.throws(
      () => parseByteSize(text),
      (error: Error) => error.message.includes(JSON.stringify(text)),
      text,
    );
  }
});
