/**
 * The verifier's checksums and sketches: the CRC32C combination against the CRC of the whole input for many
 * split points, ranges verified by threads that give the generator's own checksums for any thread count,
 * and the distinct-value estimate within its stated error.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { crc32c, crc32cBase64, crc32cCombine } from '../src/verify/crc32c';
import { HLL_RELATIVE_ERROR, hllAdd, hllEstimate, hllMerge, mix32 } from '../src/verify/hyperloglog';
import { verify } from '../src/verify/verify';
import { generateSample } from '../src/sample/generate';
import type { SampleFile } from '../src/sample/layout';
import { tempDir } from './helpers/fixtures';

describe('crc32cCombine', () => {
  const data = randomBytes(70_001);
  const whole = crc32c(data);

  test('knows the check value of the Castagnoli CRC', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32cBase64(0xe3069283), Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
  });

  test('two parts give the whole for every split point in the first and last 300 bytes, and 500 others', () => {
    const points = new Set<number>();
    for (let i = 0; i <= 300; i += 1) points.add(i).add(data.length - i);
    for (let i = 0; i < 500; i += 1) points.add(Math.floor(Math.random() * data.length));
    for (const split of points) {
      const first = crc32c(data.subarray(0, split));
      const second = crc32c(data.subarray(split));
      assert.equal(crc32cCombine(first, second, data.length - split), whole, `split at ${split}`);
    }
  });

  test('many parts combine in order, as ranges do', () => {
    for (const parts of [2, 3, 7, 16, 61]) {
      const step = Math.ceil(data.length / parts);
      let crc = 0;
      for (let start = 0; start < data.length; start += step) {
        const piece = data.subarray(start, start + step);
        crc = start === 0 ? crc32c(piece) : crc32cCombine(crc, crc32c(piece), piece.length);
      }
      assert.equal(crc, whole, `${parts} parts`);
    }
  });

  test('lengths beyond 2^32 bytes are handled (zeros appended one power of two at a time)', () => {
    // appending 2^33 zero bytes in one step equals appending 2^32 twice
    const twice = crc32cCombine(crc32cCombine(whole, 0, 2 ** 32), 0, 2 ** 32);
    const once = crc32cCombine(whole, 0, 2 ** 33);
    assert.equal(once, twice);
    assert.throws(() => crc32cCombine(1, 2, -1), RangeError);
  });
});

describe('HyperLogLog', () => {
  test('estimates distinct values within four standard errors, and merges as a union', () => {
    const a = new Uint8Array(1 << 14);
    const b = new Uint8Array(1 << 14);
    for (let i = 0; i < 300_000; i += 1) hllAdd(i % 2 ? a : b, mix32(i));
    for (let i = 0; i < 100_000; i += 1) hllAdd(a, mix32(i)); // repeats change nothing
    hllMerge(a, b);
    const estimate = hllEstimate(a);
    assert.ok(Math.abs(estimate - 300_000) / 300_000 < 4 * HLL_RELATIVE_ERROR, `estimate ${estimate}`);
    const small = new Uint8Array(1 << 14);
    for (let i = 0; i < 1000; i += 1) hllAdd(small, mix32(i));
    assert.ok(Math.abs(hllEstimate(small) - 1000) < 20);
  });
});

describe('ranges verified by threads', () => {
  let csv: string;
  let gzip: string;
  let files: SampleFile[];
  before(async () => {
    const root = tempDir('verify-ranges');
    files = (await generateSample({ root, seed: 11, bytesPerMonth: 3 * 1024 * 1024, months: ['2019-Nov'] })).files;
    csv = path.join(root, 'datasets/marketplace/2019-Nov.csv');
    gzip = `${csv}.gz`;
  });

  test('give the CSV its manifest checksums and the same report for 1 to 7 threads', async () => {
    const expected = files.find((file) => file.path.endsWith('.csv'));
    assert.ok(expected);
    const reports = [];
    for (const threads of [1, 2, 3, 5, 7]) {
      const report = await verify(csv, { threads, minParallelBytes: 0 });
      assert.equal(report.mode, 'ranges');
      assert.equal(report.parts, threads);
      assert.equal(report.crc32c, expected.crc32c, `${threads} threads`);
      assert.equal(report.rows, expected.rows);
      assert.ok(report.ok, report.problems.join('; '));
      reports.push(report);
    }
    const comparable = reports.map(({ profile, violations, lines, rows, format, csvBytes }) => ({
      profile,
      violations,
      lines,
      rows,
      format,
      csvBytes,
    }));
    for (const other of comparable.slice(1)) assert.deepEqual(other, comparable[0]);
  });

  test('blocks handed out by the main thread give the MD5 too, and the same report', async () => {
    const expected = files.find((file) => file.path.endsWith('.csv'));
    assert.ok(expected);
    const ranges = await verify(csv, { threads: 2, minParallelBytes: 0 });
    const blocks = await verify(csv, { threads: 3, md5: true, minParallelBytes: 0, blockBytes: 100_000 });
    assert.equal(blocks.mode, 'blocks');
    assert.ok(blocks.parts > 20);
    assert.equal(blocks.md5, expected.md5);
    assert.equal(blocks.crc32c, expected.crc32c);
    assert.deepEqual(blocks.profile, { ...ranges.profile });
    assert.equal(blocks.lines, ranges.lines);
  });

  test('a gzip is checksummed as stored and validated as the CSV inside', async () => {
    const expected = files.find((file) => file.path.endsWith('.csv.gz'));
    assert.ok(expected);
    const report = await verify(gzip, { threads: 2, minParallelBytes: 0, blockBytes: 256 * 1024 });
    assert.equal(report.packaging, 'gzip');
    assert.equal(report.crc32c, expected.crc32c);
    assert.equal(report.md5, null);
    assert.equal(report.rows, expected.rows);
    assert.ok(report.csvBytes > report.bytes);
    const withMd5 = await verify(gzip, { md5: true });
    assert.equal(withMd5.md5, expected.md5);
    assert.ok(report.ok);
    // the generator's shares come out in the profile
    assert.ok(report.profile.eventTypes.view!.share > 0.9);
    assert.ok(report.profile.price.nonPositiveRows > 0);
    assert.ok(report.profile.duplicateRows > 0);
    assert.match(report.profile.categoryId.min ?? '', /^\d{19}$/);
  });
});
