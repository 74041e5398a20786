/**
 * The verifier on zips, as Kaggle serves its downloads: one CSV entry, deflated with a data descriptor (made by
 * the sample's own zip writer), in ZIP64 form, or stored; checksums of the zip as stored, validation of the CSV
 * inside. And the zips it must report rather than fail on: two entries, a truncated zip, a damaged entry.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { HEADER } from '../src/dataset/schema';
import { OneEntryZip } from '../src/sample/zip';
import { crc32c, crc32cBase64 } from '../src/verify/crc32c';
import { verify } from '../src/verify/verify';
import { coleta } from './helpers/cli';
import { tempDir } from './helpers/fixtures';

const dir = tempDir('verify-zip');
let fileCount = 0;

function write(content: Buffer): string {
  fileCount += 1;
  const file = path.join(dir, `z${fileCount}.csv.zip`);
  fs.writeFileSync(file, content);
  return file;
}

/** A CSV of `rows` valid rows, three to a second, every seventh the same as the one before. */
function csv(rows: number): Buffer {
  const lines = [HEADER];
  for (let i = 0; i < rows; i += 1) {
    const second = String(Math.floor(i / 3) % 60).padStart(2, '0');
    const minute = String(Math.floor(i / 180) % 60).padStart(2, '0');
    const session = `${String(i % 97).padStart(8, '0')}-8bb3-4e00-8c23-a032dfed738c`;
    const time = `2019-10-01 00:${minute}:${second} UTC`;
    const row = `${time},view,${1000 + i},2103807459595387724,,brand,1.50,${5e8 + i},${session}`;
    lines.push(i % 7 === 6 && i % 3 !== 0 ? (lines.at(-1) as string) : row);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** A zip as the sample generator writes it: one deflated entry, its sizes in a data descriptor. */
function kaggleZip(data: Buffer, zip64Limit?: number): Buffer {
  const zip = new OneEntryZip({
    name: '2019-Oct.csv',
    modified: new Date('2020-01-01T00:00:00Z'),
    mode: 0o100644,
    maxBytes: data.length,
    ...(zip64Limit !== undefined ? { zip64Limit } : {}),
  });
  const deflated = deflateRawSync(data);
  const trailer = zip.trailer({ crc32: crc32(data), compressedBytes: deflated.length, uncompressedBytes: data.length });
  return Buffer.concat([zip.header(), deflated, trailer]);
}

/** A zip of entries stored (0) or deflated (8), their sizes in the local headers, as many zip tools write. */
function handZip(entries: { name: string; data: Buffer; method: 0 | 8 }[]): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const { name, data, method } of entries) {
    const stored = method === 8 ? deflateRawSync(data) : data;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, stored);
    directory.push(central, nameBytes);
    offset += 30 + nameBytes.length + stored.length;
  }
  const centralBytes = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, centralBytes, end]);
}

describe('zips of one CSV', () => {
  const data = csv(3000);

  test('a Kaggle-style zip: checksums of the zip as stored, validation of the CSV inside', async () => {
    const zip = kaggleZip(data);
    const file = write(zip);
    const single = await verify(file, { md5: true });
    assert.ok(single.ok, single.problems.join('; '));
    assert.equal(single.packaging, 'zip');
    assert.equal(single.gzip, false);
    assert.equal(single.bytes, zip.length);
    assert.equal(single.csvBytes, data.length);
    assert.equal(single.rows, 3000);
    assert.equal(single.md5, createHash('md5').update(zip).digest('base64'));
    assert.equal(single.crc32c, crc32cBase64(crc32c(zip)));
    assert.ok(single.profile.duplicateRows > 0);
    // the same in small chunks over threads
    const split = await verify(file, { threads: 2, minParallelBytes: 0, blockBytes: 4000 });
    assert.ok(split.parts > 10);
    assert.deepEqual(split.profile, single.profile);
    assert.equal(split.crc32c, single.crc32c);
  });

  test('a zip in ZIP64 form is read as well', async () => {
    const zip = kaggleZip(data, 0);
    const report = await verify(write(zip));
    assert.ok(report.ok, report.problems.join('; '));
    assert.equal(report.rows, 3000);
    assert.equal(report.csvBytes, data.length);
  });

  test('a stored entry is taken as it is, and what follows it is not', async () => {
    const report = await verify(write(handZip([{ name: 'a.csv', data, method: 0 }])));
    assert.ok(report.ok, report.problems.join('; '));
    assert.equal(report.rows, 3000);
    assert.equal(report.csvBytes, data.length);
    assert.equal(report.format.finalNewline, true);
  });

  test('coleta verify prints the zip and the CSV inside', async () => {
    const file = write(kaggleZip(data));
    const result = await coleta(['verify', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^verified .*\.csv\.zip \([\d.]+ KiB zip, [\d.]+ KiB of CSV\) in \d+\.\d s$/m);
    assert.match(result.stdout, /^ {2}rows {5}3000 /m);
  });
});

describe('zips that are reported', () => {
  const data = csv(2000);

  test('two entries: a problem, and the first is checked', async () => {
    const bad = Buffer.from(`${HEADER}\nnot,a,row\n`);
    const zip = handZip([
      { name: 'a.csv', data, method: 8 },
      { name: 'b.csv', data: bad, method: 0 },
    ]);
    const report = await verify(write(zip));
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems, [
      'zip: 2 entries (a.csv, b.csv), where a download holds one CSV: only the first, a.csv, was checked',
    ]);
    assert.equal(report.rows, 2000);
    assert.equal(report.violations.length, 0);
  });

  test('a truncated zip: a problem, with the rows before the cut validated', async () => {
    const zip = kaggleZip(data);
    const report = await verify(write(zip.subarray(0, Math.floor(zip.length * 0.6))), { md5: true });
    assert.equal(report.ok, false);
    assert.equal(report.problems[0], 'zip: no end of central directory record: the zip is truncated, or not a zip');
    assert.match(report.problems[1] ?? '', /^zip: unexpected end of file$/);
    assert.ok(report.rows > 100 && report.rows < 2000, `${report.rows} rows`);
    assert.equal(report.violations.length, 0);
    // cut inside the local header: nothing to read, and still a report, with the checksums of what is there
    const stub = await verify(write(zip.subarray(0, 20)), { md5: true });
    assert.equal(stub.ok, false);
    assert.equal(stub.rows, 0);
    assert.equal(stub.md5, createHash('md5').update(zip.subarray(0, 20)).digest('base64'));
    assert.equal(stub.crc32c, crc32cBase64(crc32c(zip.subarray(0, 20))));
    assert.deepEqual(stub.problems, ['zip: no end of central directory record: the zip is truncated, or not a zip']);
  });

  test('a damaged entry: its CRC-32 does not match', async () => {
    const zip = handZip([{ name: 'a.csv', data, method: 0 }]);
    // a digit of a price changed: still a valid row, no longer the zip's data
    const at = zip.indexOf(',1.50,', 5000);
    zip[at + 1] = '2'.charCodeAt(0);
    const report = await verify(write(zip));
    assert.deepEqual(report.problems, ['zip: the CRC-32 of a.csv does not match the one its directory gives']);
    assert.equal(report.violations.length, 0);
  });
});
