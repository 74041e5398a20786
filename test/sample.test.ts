/**
 * The local sample generator, checked on files it writes into fresh temporary folders: the layout, the
 * schema and shares of the rows, determinism, the gzip and zip against the CSV (read by zlib, by the system's
 * gzip and unzip and by Python's zipfile where they are installed, and by a parser here), the manifest against
 * an independent recomputation, the fast path, and byte sizes as configuration gives them. The parallel
 * deflate and the zip's ZIP64 records are checked on their own too, ZIP64 without writing 4 GiB.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';
import { CRC32C } from '@google-cloud/storage';
import { crc32 } from '@node-rs/crc32';
import { COLUMNS, EVENT_TIME_PATTERN, HEADER, MONTHS, USER_SESSION_PATTERN } from '../src/dataset/schema';
import { generateSample, parseByteSize } from '../src/sample/generate';
import { gzipTrailer } from '../src/sample/gzip';
import { ParallelDeflate } from '../src/sample/parallel-deflate';
import { OneEntryZip } from '../src/sample/zip';
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
/** The time of the zip entries: the Kaggle dataset's current version, to the even second DOS keeps. */
const ZIP_TIME = '2020-02-03T11:09:26';
/** Enough for the CSV of any sample here, through a child process's output. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/** Which independent readers this machine has; the checks through a missing one are skipped. */
const TOOLS = { gzip: installed('gzip'), unzip: installed('unzip'), python: installed('python3') };

function installed(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

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

/** The CSV files of a sample, by month, with the zip of each. */
function csvFiles(root: string, manifest: SampleManifest): { month: string; file: string; zip: string }[] {
  return manifest.months.map((month) => ({
    month,
    file: path.join(root, 'datasets', 'marketplace', `${month}.csv`),
    zip: path.join(kaggleDatasetDir(root, KAGGLE_OWNER, KAGGLE_SLUG), String(KAGGLE_VERSION), `${month}.csv.zip`),
  }));
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
function allCsv(): { month: string; file: string; zip: string }[] {
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
    // no name, no time (so every run writes the same bytes), the fastest level, Unix
    assert.deepEqual([...gzip.subarray(0, 10)], [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x04, 0x03], 'gzip header');
    assert.ok(gunzipSync(gzip).equals(fs.readFileSync(file)), file);
    assert.ok(gzip.length < fs.statSync(file).size / 2, 'compressed');
  }
});

test('gzip -t accepts the .csv.gz and gunzip -c gives back the .csv', { skip: !TOOLS.gzip && 'no gzip' }, () => {
  for (const { file } of allCsv()) {
    // gzip exits with 1 on an error and 2 on a warning (trailing garbage, for one); both throw here
    execFileSync('gzip', ['-t', `${file}.gz`]);
    const csv = execFileSync('gzip', ['-dc', `${file}.gz`], { maxBuffer: MAX_OUTPUT });
    assert.ok(csv.equals(fs.readFileSync(file)), file);
  }
});

test('the zip holds exactly the CSV, deflated, under its name', () => {
  for (const { month, file, zip } of allCsv()) {
    const entries = readZip(fs.readFileSync(zip));
    assert.equal(entries.length, 1);
    const csv = fs.readFileSync(file);
    assert.equal(entries[0]?.name, `${month}.csv`);
    assert.equal(entries[0]?.method, 8, 'deflated');
    assert.equal(entries[0]?.crc32, crc32(csv) >>> 0);
    assert.equal(entries[0]?.modified, ZIP_TIME);
    assert.equal(entries[0]?.zip64, false, 'no ZIP64 records at this size');
    assert.ok(entries[0]?.data.equals(csv), zip);
  }
});

test('unzip -t accepts the zip and unzip -p gives back the CSV', { skip: !TOOLS.unzip && 'no unzip' }, () => {
  for (const { month, file, zip } of allCsv()) {
    execFileSync('unzip', ['-tq', zip]);
    const csv = execFileSync('unzip', ['-p', zip, `${month}.csv`], { maxBuffer: MAX_OUTPUT });
    assert.ok(csv.equals(fs.readFileSync(file)), zip);
  }
});

test("Python's zipfile reads the zip and finds only the CSV", { skip: !TOOLS.python && 'no python3' }, () => {
  for (const { month, file, zip } of allCsv()) {
    assert.ok(pythonUnzip(zip, `${month}.csv`).equals(fs.readFileSync(file)), zip);
  }
});

/**
 * A zip's one entry as Python's zipfile reads it, which checks the entry's CRC-32 and the name; throws if
 * Python finds anything wrong.
 */
function pythonUnzip(zip: string, name: string): Buffer {
  const script = [
    'import sys, zipfile',
    'with zipfile.ZipFile(sys.argv[1]) as z:',
    '    if z.testzip() is not None: sys.exit("bad CRC-32")',
    '    if z.namelist() != [sys.argv[2]]: sys.exit("entries: %r" % z.namelist())',
    '    if z.getinfo(sys.argv[2]).compress_type != zipfile.ZIP_DEFLATED: sys.exit("not deflated")',
    '    sys.stdout.buffer.write(z.read(sys.argv[2]))',
  ].join('\n');
  return execFileSync('python3', ['-c', script, zip, name], { maxBuffer: MAX_OUTPUT });
}

interface ZipEntryRead {
  name: string;
  method: number;
  crc32: number;
  /** The DOS time, as ISO 8601 without a zone. */
  modified: string;
  /** Whether the entry has a ZIP64 extra field. */
  zip64: boolean;
  data: Buffer;
}

/**
 * The entries of a zip, read through its central directory (ZIP64 end records and extra fields included), each
 * checked against its local header and its data descriptor.
 */
function readZip(zip: Buffer): ZipEntryRead[] {
  const end = zip.length - 22;
  assert.equal(zip.readUInt32LE(end), 0x06054b50, 'end of central directory');
  let count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  if (at === 0xffffffff) {
    assert.equal(zip.readUInt32LE(end - 20), 0x07064b50, 'ZIP64 end locator');
    const record = Number(zip.readBigUInt64LE(end - 20 + 8));
    assert.equal(zip.readUInt32LE(record), 0x06064b50, 'ZIP64 end of central directory');
    count = Number(zip.readBigUInt64LE(record + 32));
    at = Number(zip.readBigUInt64LE(record + 48));
  }
  const entries = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, 'central directory record');
    const method = zip.readUInt16LE(at + 10);
    const time = zip.readUInt16LE(at + 12);
    const date = zip.readUInt16LE(at + 14);
    const crc = zip.readUInt32LE(at + 16);
    let compressed = zip.readUInt32LE(at + 20);
    let uncompressed = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    let local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const zip64 = readZip64Field(zip.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength));
    // APPNOTE 4.5.3: only the fields that hold 0xFFFFFFFF are in the extra field, in this order
    const wide = [...(zip64 ?? [])];
    if (uncompressed === 0xffffffff) uncompressed = Number(wide.shift());
    if (compressed === 0xffffffff) compressed = Number(wide.shift());
    if (local === 0xffffffff) local = Number(wide.shift());

    assert.equal(zip.readUInt32LE(local), 0x04034b50, 'local header');
    const flags = zip.readUInt16LE(local + 6);
    const localName = zip.toString('utf8', local + 30, local + 30 + zip.readUInt16LE(local + 26));
    assert.equal(localName, name, 'the same name in the local header');
    const localExtra = local + 30 + zip.readUInt16LE(local + 26);
    const localZip64 = readZip64Field(zip.subarray(localExtra, localExtra + zip.readUInt16LE(local + 28)));
    const dataStart = localExtra + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(dataStart, dataStart + compressed);
    if (flags & 0x0008) {
      // the data descriptor's sizes are 8 bytes exactly when the local header has a ZIP64 field
      const descriptor = dataStart + compressed;
      assert.equal(zip.readUInt32LE(descriptor), 0x08074b50, 'data descriptor');
      assert.equal(zip.readUInt32LE(descriptor + 4), crc, 'CRC-32 in the data descriptor');
      const sizes = localZip64
        ? [zip.readBigUInt64LE(descriptor + 8), zip.readBigUInt64LE(descriptor + 16)].map(Number)
        : [zip.readUInt32LE(descriptor + 8), zip.readUInt32LE(descriptor + 12)];
      assert.deepEqual(sizes, [compressed, uncompressed], 'sizes in the data descriptor');
    }
    const data = method === 8 ? inflateRawSync(raw) : raw;
    assert.equal(data.length, uncompressed, 'uncompressed size');
    const pad = (value: number): string => String(value).padStart(2, '0');
    const modified =
      `${1980 + (date >> 9)}-${pad((date >> 5) & 15)}-${pad(date & 31)}` +
      `T${pad(time >> 11)}:${pad((time >> 5) & 63)}:${pad((time & 31) * 2)}`;
    entries.push({ name, method, crc32: crc, modified, zip64: zip64 !== undefined, data });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The values of the ZIP64 extended information field among a record's extra fields, if it has one. */
function readZip64Field(extra: Buffer): bigint[] | undefined {
  for (let at = 0; at + 4 <= extra.length; at += 4 + extra.readUInt16LE(at + 2)) {
    if (extra.readUInt16LE(at) !== 0x0001) continue;
    const values = [];
    for (let value = at + 4; value < at + 4 + extra.readUInt16LE(at + 2); value += 8) {
      values.push(extra.readBigUInt64LE(value));
    }
    return values;
  }
  return undefined;
}

/** A one-entry zip of `data` made as the generator makes one, in memory. */
async function zipInMemory(name: string, data: Buffer, zip64Limit?: number): Promise<Buffer> {
  const zip = new OneEntryZip({
    name,
    modified: new Date(`${ZIP_TIME}Z`),
    mode: 0o100644,
    maxBytes: data.length,
    zip64Limit,
  });
  const { stream, result } = await deflateInBlocks(data, { blockBytes: 64 * 1024, parallel: 2 });
  const trailer = zip.trailer({
    crc32: result.crc32,
    compressedBytes: result.deflatedBytes,
    uncompressedBytes: result.bytes,
  });
  return Buffer.concat([zip.header(), stream, trailer]);
}

/** `data` through a {@link ParallelDeflate}, written in pieces: the stream, its result and the sink's calls. */
async function deflateInBlocks(
  data: Buffer,
  options: { blockBytes: number; parallel: number; pieceBytes?: number },
): Promise<{ stream: Buffer; result: Awaited<ReturnType<ParallelDeflate['end']>>; pieces: number }> {
  const parts: Buffer[] = [];
  const deflate = new ParallelDeflate({
    level: 1,
    blockBytes: options.blockBytes,
    parallel: options.parallel,
    sink: async (part) => {
      parts.push(part);
    },
  });
  const pieceBytes = options.pieceBytes ?? 10_007;
  for (let at = 0; at < data.length; at += pieceBytes) await deflate.write(data.subarray(at, at + pieceBytes));
  const result = await deflate.end();
  return { stream: Buffer.concat(parts), result, pieces: parts.length };
}

/** The first CSV of the large sample: real rows, to deflate. */
function largeCsv(): Buffer {
  return fs.readFileSync(csvFiles(large.root, large.manifest)[0]?.file ?? '');
}

test('a zip with every ZIP64 record, made small, is read as the same CSV by every reader', async () => {
  const csv = largeCsv().subarray(0, 500_000);
  const file = path.join(scratch, 'zip64.csv.zip');
  // a limit of 0 puts every size and offset in its ZIP64 form, the end records included
  fs.writeFileSync(file, await zipInMemory('zip64.csv', csv, 0));

  const [entry, ...others] = readZip(fs.readFileSync(file));
  assert.equal(others.length, 0);
  assert.equal(entry?.zip64, true);
  assert.ok(entry?.data.equals(csv));
  if (TOOLS.unzip) {
    execFileSync('unzip', ['-tq', file]);
    assert.ok(execFileSync('unzip', ['-p', file, 'zip64.csv'], { maxBuffer: MAX_OUTPUT }).equals(csv), 'unzip');
  }
  if (TOOLS.python) assert.ok(pythonUnzip(file, 'zip64.csv').equals(csv), 'zipfile');
});

test('sizes and offsets past 4 GiB take their ZIP64 forms', () => {
  const compressedBytes = 4_500_000_000;
  const uncompressedBytes = 6_000_000_000;
  const zip = new OneEntryZip({
    name: 'big.csv',
    modified: new Date(`${ZIP_TIME}Z`),
    mode: 0o100644,
    maxBytes: uncompressedBytes,
  });
  assert.equal(zip.zip64, true);

  const header = zip.header();
  assert.equal(header.readUInt32LE(0), 0x04034b50);
  assert.equal(header.readUInt16LE(4), 45, 'version needed: ZIP64');
  assert.equal(header.readUInt16LE(6) & 0x0008, 0x0008, 'sizes after the data');
  assert.equal(header.readUInt32LE(18), 0xffffffff, 'compressed size in the extra field');
  assert.equal(header.readUInt32LE(22), 0xffffffff, 'uncompressed size in the extra field');
  assert.equal(header.readUInt16LE(26), 'big.csv'.length);
  assert.deepEqual(readZip64Field(header.subarray(30 + 'big.csv'.length)), [0n, 0n], 'sizes not known yet');

  const trailer = zip.trailer({ crc32: 0xcafebabe, compressedBytes, uncompressedBytes });
  // the data descriptor, with 8-byte sizes
  assert.equal(trailer.readUInt32LE(0), 0x08074b50);
  assert.equal(trailer.readUInt32LE(4), 0xcafebabe);
  assert.equal(trailer.readBigUInt64LE(8), BigInt(compressedBytes));
  assert.equal(trailer.readBigUInt64LE(16), BigInt(uncompressedBytes));
  // the central directory record: both sizes in its ZIP64 field, the local header's offset (0) in its own
  const central = 24;
  assert.equal(trailer.readUInt32LE(central), 0x02014b50);
  assert.equal(trailer.readUInt16LE(central + 6), 45);
  assert.equal(trailer.readUInt32LE(central + 16), 0xcafebabe);
  assert.equal(trailer.readUInt32LE(central + 20), 0xffffffff);
  assert.equal(trailer.readUInt32LE(central + 24), 0xffffffff);
  assert.equal(trailer.readUInt32LE(central + 42), 0);
  const extraStart = central + 46 + 'big.csv'.length;
  const extra = trailer.subarray(extraStart, extraStart + trailer.readUInt16LE(central + 30));
  assert.deepEqual(readZip64Field(extra), [BigInt(uncompressedBytes), BigInt(compressedBytes)]);
  const centralBytes = 46 + 'big.csv'.length + extra.length;
  const centralOffset = header.length + compressedBytes + 24;
  // the central directory starts past 4 GiB: the ZIP64 end record and its locator say where
  const record = central + centralBytes;
  assert.equal(trailer.readUInt32LE(record), 0x06064b50);
  assert.equal(trailer.readBigUInt64LE(record + 4), 44n);
  assert.equal(trailer.readBigUInt64LE(record + 24), 1n);
  assert.equal(trailer.readBigUInt64LE(record + 32), 1n);
  assert.equal(trailer.readBigUInt64LE(record + 40), BigInt(centralBytes));
  assert.equal(trailer.readBigUInt64LE(record + 48), BigInt(centralOffset));
  const locator = record + 56;
  assert.equal(trailer.readUInt32LE(locator), 0x07064b50);
  assert.equal(trailer.readBigUInt64LE(locator + 8), BigInt(header.length + compressedBytes + record));
  assert.equal(trailer.readUInt32LE(locator + 16), 1, 'one disk');
  const end = locator + 20;
  assert.equal(trailer.readUInt32LE(end), 0x06054b50);
  assert.equal(trailer.readUInt16LE(end + 10), 1, 'one entry');
  assert.equal(trailer.readUInt32LE(end + 12), centralBytes);
  assert.equal(trailer.readUInt32LE(end + 16), 0xffffffff, 'the offset is in the ZIP64 end record');
  assert.equal(trailer.length, end + 22);
});

test('below 4 GiB the zip has no ZIP64 record, and refuses sizes its header was not written for', () => {
  const zip = new OneEntryZip({
    name: 'small.csv',
    modified: new Date(`${ZIP_TIME}Z`),
    mode: 0o100644,
    maxBytes: 5_000_000,
  });
  assert.equal(zip.zip64, false);
  const header = zip.header();
  assert.equal(header.readUInt16LE(4), 20);
  assert.equal(header.readUInt32LE(18), 0);
  assert.equal(header.readUInt16LE(28), 0, 'no extra field');
  const trailer = zip.trailer({ crc32: 1, compressedBytes: 1_500_000, uncompressedBytes: 4_900_000 });
  assert.equal(trailer.readUInt32LE(8), 1_500_000, '4-byte sizes in the data descriptor');
  assert.equal(trailer.readUInt32LE(12), 4_900_000);
  assert.equal(trailer.readUInt32LE(16), 0x02014b50, 'the central directory right after');
  assert.equal(trailer.readUInt16LE(16 + 30), 0, 'no extra field');
  assert.equal(trailer.length, 16 + 46 + 'small.csv'.length + 22);
  assert.equal(trailer.readUInt32LE(trailer.length - 6), header.length + 1_500_000 + 16, 'central directory offset');

  assert.throws(
    () => zip.trailer({ crc32: 1, compressedBytes: 1_500_000_000, uncompressedBytes: 2 ** 32 }),
    /local header/,
  );
});

test('the gzip trailer holds the CRC-32 and the size modulo 2^32', () => {
  assert.deepEqual([...gzipTrailer(0x12345678, 5)], [0x78, 0x56, 0x34, 0x12, 5, 0, 0, 0]);
  assert.deepEqual([...gzipTrailer(0xfedcba98, 2 ** 32 * 3 + 0x0102)], [0x98, 0xba, 0xdc, 0xfe, 0x02, 0x01, 0, 0]);
});

test('the blocks join into one raw deflate stream of the input, with its CRC-32 and size', async () => {
  const blockBytes = 64 * 1024;
  const csv = largeCsv();
  for (const length of [0, 1, 2 * blockBytes, 2 * blockBytes + 1_000, 1_000_000]) {
    const input = csv.subarray(0, length);
    const { stream, result, pieces } = await deflateInBlocks(input, { blockBytes, parallel: 3 });
    assert.ok(inflateRawSync(stream).equals(input), `${length} bytes`);
    assert.deepEqual([...stream.subarray(-2)], [0x03, 0x00], 'the final empty block');
    assert.equal(pieces, Math.ceil(length / blockBytes) + 1, 'one piece a block, then the final block');
    assert.deepEqual(result, { crc32: crc32(input) >>> 0, bytes: length, deflatedBytes: stream.length });
  }
});

test('the stream depends on the input alone, not on how many blocks run at once', async () => {
  const input = largeCsv().subarray(0, 700_000);
  const one = await deflateInBlocks(input, { blockBytes: 64 * 1024, parallel: 1, pieceBytes: 65_536 });
  const four = await deflateInBlocks(input, { blockBytes: 64 * 1024, parallel: 4, pieceBytes: 7_777 });
  assert.ok(four.stream.equals(one.stream));
});

test('each block starts from the previous one, so the stream is nearly as small as a single pass', async () => {
  const input = largeCsv();
  const single = deflateRawSync(input, { level: 1 }).length;
  // small blocks, where the loss of every block's first 32 KiB of matches would cost several per cent
  const { stream } = await deflateInBlocks(input, { blockBytes: 64 * 1024, parallel: 2 });
  assert.ok(stream.length < single * 1.005, `${stream.length} bytes against ${single} in one pass`);
});

test('write waits while `parallel` blocks are deflated, so memory stays bounded', async () => {
  const blockBytes = 32 * 1024;
  const parallel = 2;
  let written = 0;
  const deflate = new ParallelDeflate({
    level: 1,
    blockBytes,
    parallel,
    sink: async () => {
      await delay(2);
      written++;
    },
  });
  const input = largeCsv().subarray(0, 30 * blockBytes);
  for (let at = 0; at < input.length; at += 5_000) {
    await deflate.write(input.subarray(at, at + 5_000));
    const full = Math.floor(Math.min(at + 5_000, input.length) / blockBytes);
    assert.ok(full - written <= parallel, `${full} blocks taken in, ${written} written out`);
  }
  await deflate.end();
  assert.equal(written, 31);
});

test('a failing sink fails the deflate, and bad options are refused', async () => {
  const failure = new Error('disk full');
  const deflate = new ParallelDeflate({
    level: 1,
    blockBytes: 32 * 1024,
    parallel: 2,
    sink: () => Promise.reject(failure),
  });
  const input = largeCsv().subarray(0, 200_000);
  await assert.rejects(async () => {
    for (let at = 0; at < input.length; at += 10_000) await deflate.write(input.subarray(at, at + 10_000));
    await deflate.end();
  }, failure);
  const sink = async (): Promise<void> => undefined;
  assert.throws(() => new ParallelDeflate({ level: 1, blockBytes: 1024, parallel: 2, sink }), RangeError);
  assert.throws(() => new ParallelDeflate({ level: 1, blockBytes: 65_536, parallel: 0, sink }), RangeError);
});

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
