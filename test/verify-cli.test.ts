/**
 * `coleta verify` as data engineers run it: the summary and `--json`, exit codes 0, 1 and 2, and objects in
 * Cloud Storage (a CSV, a gzip, a zip), read from the real fake-gcs-server by byte ranges or streamed, and
 * compared with the object's metadata.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { HEADER } from '../src/dataset/schema';
import { generateSample } from '../src/sample/generate';
import type { SampleFile } from '../src/sample/layout';
import type { VerifyReport } from '../src/verify/types';
import { coleta } from './helpers/cli';
import { freePort, tempDir, toolPaths } from './helpers/fixtures';

const ROW = '2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,';

describe('coleta verify on local files', () => {
  const dir = tempDir('verify-cli');
  const good = path.join(dir, 'good.csv');
  const bad = path.join(dir, 'bad.csv');
  before(() => {
    fs.writeFileSync(good, `${HEADER}\n${ROW}\n${ROW}\n`);
    fs.writeFileSync(bad, `${HEADER}\n${ROW}\n${ROW.replace('view', 'peek')}\n`);
  });

  test('prints a summary and exits 0 for a good file', async () => {
    const result = await coleta(['verify', good, '--md5']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^verified .*good\.csv \(\d+ B\) in \d+\.\d s$/m);
    assert.match(result.stdout, /^ {2}crc32c {3}[A-Za-z0-9+/]{6}==$/m);
    assert.match(result.stdout, /^ {2}md5 {6}[A-Za-z0-9+/]{22}==$/m);
    assert.match(result.stdout, /^ {2}rows {5}2 \(3 lines; header ok;/m);
    assert.match(result.stdout, /^ {2}duplicates {3}1 rows/m);
    assert.match(result.stdout, /^OK$/m);
  });

  test('exits 1 for violations, with examples and line numbers, and --json gives the report', async () => {
    const text = await coleta(['verify', bad]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^ {2}event_type: 1 \(event_type is not view/m);
    assert.match(text.stdout, /^ {4}line 3: event_type "peek" {2}\| 2019-10-01 00:00:00 UTC,peek,/m);
    assert.match(text.stdout, /^FAILED: 1 problem$/m);
    const json = await coleta(['verify', bad, '--json']);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as VerifyReport;
    assert.equal(report.ok, false);
    assert.equal(report.violations[0]?.examples[0]?.line, 3);
  });

  test('exits 1 for a checksum that does not match', async () => {
    const result = await coleta(['verify', good, '--expect-crc32c', 'AAAAAA==']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^ {2}MISMATCH crc32c of --expect-crc32c: AAAAAA==$/m);
  });

  test('refuses bad input with one line and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['verify', path.join(dir, 'missing.csv')], /^coleta: .*missing\.csv: no such file$/],
      [['verify', 'gs://bucket-only'], /^coleta: "gs:\/\/bucket-only" names no object: give gs:\/\/bucket\/object$/],
      [['verify', 'gs://UPPER/x'], /^coleta: "gs:\/\/UPPER\/x": bucket name "UPPER" may hold only/],
      [['verify', 'https://example.org/x.csv'], /^coleta: "https:\/\/example\.org\/x\.csv" is neither a local path/],
      [['verify', good, '--threads', '0'], /^coleta: --threads: "0" is not a whole number from 1 to 256$/],
      [['verify', good, '--expect-md5', 'abc'], /^coleta: --expect-md5: "abc" is not a base64 MD5/],
    ];
    for (const [args, message] of cases) {
      const result = await coleta(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr.trim(), message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
  });
});

describe('coleta verify on Cloud Storage objects', () => {
  let server: ChildProcess;
  let endpoint: string;
  let files: SampleFile[];
  before(async () => {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    const root = tempDir('verify-gcs');
    server = spawn(
      toolPaths().fakeGcs,
      ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-backend', 'filesystem'].concat([
        '-filesystem-root',
        path.join(root, 'gcs'),
      ]),
      { stdio: 'ignore' },
    );
    for (let attempt = 0; ; attempt += 1) {
      try {
        if ((await fetch(`${endpoint}/storage/v1/b`)).ok) break;
      } catch {
        if (attempt > 100) throw new Error('fake-gcs-server did not start');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const sampleRoot = path.join(root, 'sample');
    files = (await generateSample({ root: sampleRoot, seed: 5, bytesPerMonth: 9 * 1024 * 1024, months: ['2019-Oct'] }))
      .files;
    const storage = new Storage({ apiEndpoint: endpoint, projectId: 'coleta-test' });
    const [bucket] = await storage.createBucket('verify-bucket');
    for (const name of ['2019-Oct.csv', '2019-Oct.csv.gz']) {
      await bucket.upload(path.join(sampleRoot, 'datasets/marketplace', name), { destination: `raw/${name}` });
    }
    // the Kaggle-style zip, under its name and under one that does not say it is a zip
    const zip = files.find((file) => file.path.endsWith('.csv.zip'));
    for (const destination of ['raw/2019-Oct.csv.zip', 'raw/kaggle-download']) {
      await bucket.upload(path.join(sampleRoot, zip?.path ?? ''), { destination });
    }
  });
  after(() => server?.kill());

  const run = (args: string[]) => coleta(['verify', ...args, '--json'], { STORAGE_EMULATOR_HOST: endpoint });

  test('a CSV object is read by byte ranges in parallel and matches its metadata', async () => {
    const result = await run(['gs://verify-bucket/raw/2019-Oct.csv', '--threads', '3']);
    assert.equal(result.code, 0, result.stderr + result.stdout.slice(0, 2000));
    const report = JSON.parse(result.stdout) as VerifyReport;
    const expected = files.find((file) => file.path.endsWith('.csv'));
    assert.equal(report.mode, 'ranges');
    assert.equal(report.parts, 3);
    assert.equal(report.crc32c, expected?.crc32c);
    assert.deepEqual(report.checks, [
      {
        algorithm: 'crc32c',
        from: 'object metadata',
        expected: expected?.crc32c,
        actual: expected?.crc32c,
        match: true,
      },
    ]);
    assert.equal(report.rows, expected?.rows);
  });

  test('a gzip object with --md5 is streamed once and both checksums match its metadata', async () => {
    const result = await run(['gs://verify-bucket/raw/2019-Oct.csv.gz', '--md5']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as VerifyReport;
    const expected = files.find((file) => file.path.endsWith('.csv.gz'));
    assert.deepEqual(
      report.checks.map((check) => [check.algorithm, check.match]),
      [
        ['crc32c', true],
        ['md5', true],
      ],
    );
    assert.equal(report.md5, expected?.md5);
    assert.equal(report.rows, expected?.rows);
  });

  test('a zip object, named so or not, is streamed once: its CSV validated, its checksums matching', async () => {
    const expected = files.find((file) => file.path.endsWith('.csv.zip'));
    for (const object of ['raw/2019-Oct.csv.zip', 'raw/kaggle-download']) {
      const result = await run([`gs://verify-bucket/${object}`, '--md5', '--threads', '2']);
      assert.equal(result.code, 0, result.stderr + result.stdout.slice(0, 2000));
      const report = JSON.parse(result.stdout) as VerifyReport;
      assert.equal(report.packaging, 'zip', object);
      assert.equal(report.mode, 'blocks');
      assert.deepEqual(
        report.checks.map((check) => [check.algorithm, check.match]),
        [
          ['crc32c', true],
          ['md5', true],
        ],
      );
      assert.equal(report.md5, expected?.md5);
      assert.equal(report.rows, expected?.rows);
    }
  });

  test('a missing object is bad input', async () => {
    const result = await run(['gs://verify-bucket/raw/nothing.csv']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim(), 'coleta: gs://verify-bucket/raw/nothing.csv: no such object');
  });
});
