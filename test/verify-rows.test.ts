/**
 * The verifier on hand-made files: each kind of violation counted with its line numbers, the line ends and
 * quoting it must accept, the edge cases of empty, header-only, wrong-header and truncated gzip inputs, and
 * the same report whether a file is scanned by one thread or cut into ranges and chunks, and the fast path
 * counting exactly as the general one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { HEADER } from '../src/dataset/schema';
import { BlockScanner, bytesEqual, newSketches, notDigit, notHex } from '../src/verify/scanner';
import { verify, type VerifyOptions } from '../src/verify/verify';
import type { VerifyReport, ViolationKind } from '../src/verify/types';
import { tempDir } from './helpers/fixtures';

const dir = tempDir('verify-rows');
let fileCount = 0;

/** Writes a file and returns its path. */
function write(content: string | Buffer, extension = '.csv'): string {
  fileCount += 1;
  const file = path.join(dir, `f${fileCount}${extension}`);
  fs.writeFileSync(file, content);
  return file;
}

// rows as the published files have them, field by field
const GOOD = [
  ['2019-10-01 00:00:00 UTC', 'view', '44600062', '2103807459595387724', '', 'shiseido', '35.79', '541312140'],
  ['2019-10-01 00:00:00 UTC', 'view', '3900821', '2053013552326770905', 'appliances.environment.water_heater'],
  ['2019-10-01 00:00:01 UTC', 'cart', '17200506', '2053013559792632471', 'furniture.living_room.sofa', ''],
  ['2019-10-01 00:00:01 UTC', 'purchase', '1307067', '2053013558920217191', 'computers.notebook', 'lenovo'],
].map((fields, i) => {
  const rest = [[], ['aqua', '33.20', '554748717'], ['543.10', '519107250'], ['251.74', '550050854']][i] as string[];
  const sessions = [
    '72d76fde-8bb3-4e00-8c23-a032dfed738c',
    '9333dfbd-b87a-4708-9857-6336556b0fcc',
    '566511c2-e2e3-422b-b695-cf8e6e792ca8',
    '7c90fc70-0e80-4590-96f3-13c02c18c713',
  ];
  return [...fields, ...rest, sessions[i]].join(',');
});
const csv = (...rows: string[]) => `${[HEADER, ...rows].join('\n')}\n`;
const count = (report: VerifyReport, kind: ViolationKind) =>
  report.violations.find((violation) => violation.kind === kind)?.count ?? 0;
const lines = (report: VerifyReport, kind: ViolationKind) =>
  report.violations.find((violation) => violation.kind === kind)?.examples.map((example) => example.line) ?? [];

describe('a valid file', () => {
  test('passes, with its profile', async () => {
    const report = await verify(write(csv(...GOOD)));
    assert.ok(report.ok, report.problems.join('; '));
    assert.equal(report.rows, 4);
    assert.equal(report.lines, 5);
    assert.deepEqual(report.format, { header: 'ok', crlfLines: 0, finalNewline: true, quotedRows: 0 });
    assert.equal(report.profile.firstEventTime, '2019-10-01 00:00:00 UTC');
    assert.equal(report.profile.lastEventTime, '2019-10-01 00:00:01 UTC');
    assert.deepEqual(report.profile.eventTypes.view, { rows: 2, share: 0.5 });
    assert.deepEqual(report.profile.emptyValues.brand, { rows: 1, share: 0.25 });
    assert.deepEqual(report.profile.emptyValues.category_code, { rows: 1, share: 0.25 });
    assert.deepEqual(report.profile.price, { min: 33.2, max: 543.1, mean: 215.9575, nonPositiveRows: 0 });
    // above 2^53, and exact
    assert.deepEqual(report.profile.categoryId, { min: '2053013552326770905', max: '2103807459595387724' });
    assert.equal(report.profile.distinctUsers.estimate, 4);
    assert.equal(report.profile.distinctSessions.estimate, 4);
    assert.equal(report.profile.duplicateRows, 0);
    assert.match(report.crc32c ?? '', /^[A-Za-z0-9+/]{6}==$/);
    assert.ok(JSON.parse(JSON.stringify(report)));
  });

  test('CR LF line ends and no final line end are accepted, and reported', async () => {
    const report = await verify(
      write(
        csv(...GOOD)
          .replace(/\n/g, '\r\n')
          .replace(/\r\n$/, ''),
      ),
    );
    assert.ok(report.ok, report.problems.join('; '));
    assert.equal(report.rows, 4);
    assert.equal(report.format.crlfLines, 4);
    assert.equal(report.format.finalNewline, false);
  });

  test('quoted fields follow RFC 4180: a quoted comma, a doubled quote, a line end inside quotes', async () => {
    const rows = [
      '"2019-10-01 00:00:00 UTC","view",44600062,2103807459595387724,"electronics.smartphone","a,b",35.79,541312140,',
      '2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,"say ""hi""",35.79,541312140,',
      '2019-10-01 00:00:01 UTC,view,44600062,2103807459595387724,,"two\nlines",1.00,541312140,',
      GOOD[3] as string,
    ];
    const report = await verify(write(csv(...rows)));
    assert.ok(report.ok, report.problems.join('; '));
    assert.equal(report.rows, 4);
    assert.equal(report.lines, 6);
    assert.equal(report.format.quotedRows, 3);
    assert.deepEqual(report.profile.emptyValues.user_session, { rows: 3, share: 0.75 });
  });
});

describe('violations', () => {
  const bad: [ViolationKind, string][] = [
    ['field_count', '2019-10-01 00:00:02 UTC,view,1,2,,,3.00,4'],
    ['event_time', '2019-10-01T00:00:02Z,view,1,2,,,3.00,4,'],
    ['event_time', '2019-13-01 00:00:02 UTC,view,1,2,,,3.00,4,'],
    ['event_type', '2019-10-01 00:00:02 UTC,click,1,2,,,3.00,4,'],
    ['product_id', '2019-10-01 00:00:02 UTC,view,12a,2,,,3.00,4,'],
    ['category_id', '2019-10-01 00:00:02 UTC,view,1,9223372036854775808,,,3.00,4,'],
    ['category_id', '2019-10-01 00:00:02 UTC,view,1,,,,3.00,4,'],
    ['price', '2019-10-01 00:00:02 UTC,view,1,2,,,3.5.0,4,'],
    ['price', '2019-10-01 00:00:02 UTC,view,1,2,,,1e3,4,'],
    ['user_id', '2019-10-01 00:00:02 UTC,view,1,2,,,3.00,-4,'],
    ['user_session', '2019-10-01 00:00:02 UTC,view,1,2,,,3.00,4,72D76FDE-8BB3-4E00-8C23-A032DFED738C'],
    ['user_session', '2019-10-01 00:00:02 UTC,view,1,2,,,3.00,4,not-a-uuid'],
    ['repeated_header', HEADER],
    ['quoting', '2019-10-01 00:00:02 UTC,view,1,2,,br"and,3.00,4,'],
    ['field_count', ''],
  ];

  test('each kind is counted, with examples and their line numbers, and no stop at the first', async () => {
    // every bad row sits between good ones: line 1 is the header, so the bad row of index i is on line 3 + 2i
    const rows: string[] = [GOOD[0] as string];
    for (const [, row] of bad) rows.push(row, GOOD[1] as string);
    const report = await verify(write(csv(...rows)));
    assert.equal(report.ok, false);
    const expected = new Map<ViolationKind, number[]>();
    bad.forEach(([kind], i) => expected.set(kind, [...(expected.get(kind) ?? []), 3 + 2 * i]));
    for (const [kind, at] of expected) {
      assert.equal(count(report, kind), at.length, kind);
      assert.deepEqual(lines(report, kind), at, kind);
    }
    assert.equal(report.invalidRows, bad.length - 1); // the repeated header is not a row
    assert.equal(report.rows, 1 + 2 * bad.length - 1);
    assert.equal(report.problems.length, expected.size);
    assert.match(report.problems.join('\n'), /^price: 2 \(price is not a decimal number\), first at line 17$/m);
    const example = report.violations.find((violation) => violation.kind === 'event_type')?.examples[0];
    assert.deepEqual(example, { line: 9, detail: 'event_type "click"', text: bad[3]?.[1] });
  });

  test('only the first examples are kept, all are counted', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `2019-10-01 00:00:0${i % 10} UTC,view,1,2,,,free,4,`);
    const report = await verify(write(csv(...rows)));
    assert.equal(count(report, 'price'), 40);
    assert.deepEqual(lines(report, 'price'), [2, 3, 4, 5, 6]);
  });

  test('--fail-fast stops at the first', async () => {
    const rows = [GOOD[0] as string, 'x,view', 'y,view', GOOD[1] as string];
    const report = await verify(write(csv(...rows)), { failFast: true });
    assert.equal(report.stoppedEarly, true);
    assert.equal(count(report, 'field_count'), 1);
    assert.equal(report.crc32c, null);
    assert.match(report.problems.at(-1) ?? '', /stopped at the first violation/);
  });

  test('time order and exact duplicates', async () => {
    const rows = [GOOD[0], GOOD[1], GOOD[0], GOOD[2], GOOD[3], GOOD[3], GOOD[3], GOOD[0]] as string[];
    const report = await verify(write(csv(...rows)));
    assert.ok(report.ok);
    assert.equal(report.profile.outOfOrderRows, 1);
    assert.equal(report.profile.duplicateRows, 3);
    assert.equal(report.profile.lastEventTime, '2019-10-01 00:00:00 UTC');
    assert.equal(report.profile.maxEventTime, '2019-10-01 00:00:01 UTC');
  });

  test('a price of zero or less is counted, not a violation', async () => {
    const rows = [GOOD[0], GOOD[1]?.replace(',33.20,', ',0.00,'), GOOD[2]?.replace(',543.10,', ',-1.5,')] as string[];
    const report = await verify(write(csv(...rows)));
    assert.ok(report.ok);
    assert.deepEqual(report.profile.price, { min: -1.5, max: 35.79, mean: 11.43, nonPositiveRows: 2 });
  });
});

describe('edge cases', () => {
  test('an empty file is a problem', async () => {
    const report = await verify(write(''));
    assert.equal(report.ok, false);
    assert.equal(report.format.header, 'none');
    assert.deepEqual(report.problems, ['the file is empty: not even a header line']);
    assert.equal(report.crc32c, 'AAAAAA==');
  });

  test('a header-only file passes with no rows, with or without a final line end', async () => {
    for (const content of [`${HEADER}\n`, HEADER]) {
      const report = await verify(write(content));
      assert.ok(report.ok, report.problems.join('; '));
      assert.equal(report.rows, 0);
      assert.equal(report.profile.firstEventTime, null);
      assert.equal(report.profile.price.mean, null);
    }
  });

  test('a wrong header is a violation of line 1', async () => {
    const report = await verify(write(csv(...GOOD).replace('event_type', 'type')));
    assert.equal(report.format.header, 'wrong');
    assert.deepEqual(lines(report, 'header'), [1]);
    assert.equal(report.rows, 4);
  });

  test('a gzip: checksums of the compressed bytes, validation of the CSV', async () => {
    const gzip = gzipSync(csv(...GOOD));
    const report = await verify(write(gzip, '.csv.gz'), { md5: true });
    assert.ok(report.ok, report.problems.join('; '));
    assert.equal(report.packaging, 'gzip');
    assert.equal(report.bytes, gzip.length);
    assert.equal(report.md5, (await import('node:crypto')).createHash('md5').update(gzip).digest('base64'));
    assert.equal(report.rows, 4);
  });

  test('a truncated gzip is reported, with the rows before the cut validated', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => GOOD[i % 4] as string);
    const gzip = gzipSync(csv(...rows));
    const report = await verify(write(gzip.subarray(0, Math.floor(gzip.length * 0.8)), '.csv.gz'));
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems, ['gzip: unexpected end of file']);
    assert.equal(report.crc32c, report.crc32c); // computed over what was read
    assert.ok(report.rows > 100 && report.rows < 2000, `${report.rows} rows`);
    assert.equal(report.violations.length, 0);
  });

  test('--expect-crc32c and --expect-md5 are compared', async () => {
    const file = write(csv(...GOOD));
    const good = await verify(file, { md5: true });
    const same = await verify(file, { expectCrc32c: good.crc32c ?? '', expectMd5: good.md5 ?? '' });
    assert.ok(same.ok);
    assert.equal(same.checks.length, 2);
    const wrong = await verify(file, { expectCrc32c: 'AAAAAA==' });
    assert.equal(wrong.ok, false);
    assert.deepEqual(wrong.problems, [`crc32c ${good.crc32c} does not match AAAAAA== (--expect-crc32c)`]);
  });
});

describe('split over threads', () => {
  test('ranges and blocks give the report of one thread: line numbers, edges, duplicates', async () => {
    // rows in time order with duplicates and violations spread over the file, so that cuts fall everywhere
    const rows: string[] = [];
    for (let i = 0; i < 6000; i += 1) {
      const second = String(Math.floor(i / 7) % 60).padStart(2, '0');
      const minute = String(Math.floor(i / 420)).padStart(2, '0');
      let row = `2019-10-01 00:${minute}:${second} UTC,view,${1000 + (i % 3)},2103807459595387724,,b,1.00,7,`;
      if (i % 701 === 0) row = row.replace('view', 'look');
      if (i % 997 === 0) row = row.replace(',1.00,', ',x,');
      if (i % 1499 === 0) row = HEADER;
      rows.push(row);
    }
    const file = write(csv(...rows).replace(/\n/g, (match, offset: number) => (offset % 3 === 0 ? '\r\n' : match)));
    const single = await verify(file, { threads: 1 });
    assert.ok(single.profile.duplicateRows > 1000);
    assert.ok(single.violations.length >= 3);
    const strip = (report: VerifyReport) => ({
      ...report,
      elapsedMs: 0,
      mode: 'x',
      threads: 0,
      parts: 0,
      md5: null,
      crc32c: report.crc32c,
    });
    const options: VerifyOptions[] = [
      { threads: 2, minParallelBytes: 0 },
      { threads: 5, minParallelBytes: 0 },
      { threads: 3, minParallelBytes: 0, md5: true, blockBytes: 4096 },
      { threads: 1, md5: true, blockBytes: 1000 },
      // chunks shorter than a line: most hold no line end, and the header spans three
      { threads: 2, minParallelBytes: 0, md5: true, blockBytes: 37 },
      { threads: 1, md5: true, blockBytes: 13 },
    ];
    for (const option of options) {
      const split = await verify(file, option);
      assert.ok(split.parts > 1, JSON.stringify(option));
      assert.deepEqual(strip(split), strip(single), JSON.stringify(option));
    }
    // and inflated from a gzip, in chunks
    const gzip = await verify(write(gzipSync(fs.readFileSync(file)), '.csv.gz'), {
      minParallelBytes: 0,
      blockBytes: 999,
    });
    assert.equal(gzip.packaging, 'gzip');
    const packed = (report: VerifyReport) => ({
      ...strip(report),
      source: '',
      packaging: 'none',
      gzip: false,
      bytes: 0,
    });
    assert.deepEqual(packed(gzip), { ...packed(single), crc32c: gzip.crc32c });
  });
});

describe('the fast path', () => {
  /** Scans a CSV in chunks of `chunk` bytes, with or without the fast path. */
  const scan = (text: Buffer, fastPath: boolean, chunk: number) => {
    const sketches = newSketches();
    const scanner = new BlockScanner(0, sketches, { first: true, failFast: false, fastPath });
    for (let i = 0; i < text.length; i += chunk) scanner.feed(text.subarray(i, i + chunk));
    return { result: scanner.finish(), sketches };
  };
  const same = (text: Buffer, what: string) => {
    for (const chunk of [text.length, 1000, 64, 7]) {
      assert.deepEqual(scan(text, true, chunk), scan(text, false, chunk), `${what}, chunks of ${chunk}`);
    }
  };

  test('counts exactly as the general path, on rows of every shape', () => {
    const base = GOOD[0] as string;
    const variants = [
      ...GOOD,
      base.replace(',2103807459595387724,', ',210380745959538772,'), // 18 digits: taken by the general path
      base.replace(',2103807459595387724,', ',9223372036854775807,'),
      base.replace(',2103807459595387724,', ',9223372036854775808,'),
      base.replace(',2103807459595387724,', ',21038074595953877240,'),
      base.replace(',44600062,', ',123456789012345,').replace(',541312140,', ',999999999999999,'),
      base.replace(',44600062,', ',1234567890123456,'),
      base.replace(',44600062,', ',7,').replace(',541312140,', ',0,'),
      base.replace(',35.79,', ',-0.5,'),
      base.replace(',35.79,', ',5,'),
      base.replace(',35.79,', ',5.,'),
      base.replace(',35.79,', ',.5,'),
      base.replace(',35.79,', ',1.2345678,'),
      base.replace(',shiseido,', ',ação,'),
      base.replace(',shiseido,', ',a\rb,'),
      base.replace('view', 'remove_from_cart'),
      base.replace('view', 'purchase'),
      base.replace('view', 'View'),
      base.replace('view', 'views'),
      base.replace('72d76fde', '72D76FDE'),
      base.replace('72d76fde', '72d76fdg'),
      base.replace('72d76fde-8bb3', '72d76fde08bb3'),
      `${base}x`,
      base.slice(0, -1),
      base.replace('00:00:00', '23:59:59'),
      base.replace('00:00:00', '24:00:00'),
      base.replace('00:00:00', '00:00:60'),
      base.replace('00:00:00', '00:60:00'),
      base.replace('2019-10-01', '2019-00-01'),
      base.replace(' UTC', ' utc'),
      base.replace(/,[^,]*$/, ','),
      `${base.replace(/,[^,]*$/, ',')}\r`,
      `${base}\r`,
      base.replace('shiseido', '"shi,seido"'),
      HEADER,
      '',
    ];
    same(Buffer.from(csv(...variants, ...variants.map((row) => row.replace('00:00:00', '00:00:01')))), 'variants');
    // a second at a time over two minutes and a day, then back in time
    const times = Array.from(
      { length: 150 },
      (_, i) =>
        `2019-10-0${1 + Math.floor(i / 120)} 00:0${Math.floor(i / 60) % 2}:${String(i % 60).padStart(2, '0')} UTC`,
    );
    same(
      Buffer.from(
        csv(...[...times, ...times.slice(0, 5)].map((time) => base.replace('2019-10-01 00:00:00 UTC', time))),
      ),
      'times',
    );
  });

  test('its checks of 4 bytes at a time find whether a byte fails, and the first that does', () => {
    const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;
    const isHex = (byte: number) => isDigit(byte) || (byte >= 0x61 && byte <= 0x66);
    const words: number[] = [];
    for (let byte = 0; byte < 256; byte += 1) {
      for (let place = 0; place < 4; place += 1) {
        for (const fill of [0x00, 0x2c, 0x30, 0x61, 0x7f, 0x80, 0xff]) {
          const bytes = [fill, fill, fill, fill];
          bytes[place] = byte;
          words.push(Buffer.from(bytes).readInt32LE(0));
        }
      }
    }
    // the lowest flag, as the place of its byte (4: none)
    const first = (flags: number) => (flags === 0 ? 4 : (31 - Math.clz32(flags & -flags)) >> 3);
    for (const word of words) {
      const bytes = [0, 1, 2, 3].map((k) => (word >>> (8 * k)) & 0xff);
      const firstFailing = (fails: (byte: number) => boolean) => {
        const place = bytes.findIndex(fails);
        return place < 0 ? 4 : place;
      };
      assert.equal(
        first(notDigit(word)),
        firstFailing((byte) => !isDigit(byte)),
        word.toString(16),
      );
      assert.equal(
        first(notHex(word)),
        firstFailing((byte) => !isHex(byte)),
        word.toString(16),
      );
      // exact for every byte
      const commas = bytes.reduce((all, byte, k) => all | (byte === 0x2c ? 0x80 << (8 * k) : 0), 0);
      assert.equal(bytesEqual(word, 0x2c2c2c2c), commas, word.toString(16));
    }
  });

  test('counts exactly as the general path, on rows damaged at random', () => {
    // a seeded generator (mulberry32), so that a failure can be replayed
    let seed = 46;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const bytes = Buffer.from('0159afgA-.,:" \r\nU\u00e7');
    const rows: string[] = [];
    for (let i = 0; i < 4000; i += 1) {
      const row = Buffer.from(GOOD[i % GOOD.length] as string, 'latin1');
      for (let k = Math.floor(random() * 3); k >= 0; k -= 1) {
        row[Math.floor(random() * row.length)] = bytes[Math.floor(random() * bytes.length)] as number;
      }
      rows.push(row.toString('latin1'));
    }
    const text = Buffer.from(csv(...rows), 'latin1');
    same(text, 'damaged rows');
    // most damaged rows are still found: the fast path gave way to the general one for them
    assert.ok(scan(text, true, text.length).result.invalidRows > 2000);
  });
});
