/**
 * Benchmark of the verifier on a generated month of at least 1 GiB, read from the page cache: the full
 * verification against DuckDB (count(*) and a group-by over read_csv) and csv-parse, the verification with
 * MD5 against `md5sum`, peak resident memory, and how CRC32C and validation scale with threads.
 *
 * Usage: `npm run bench:verify [-- size]`, size as in `coleta sample --size` (default 1GiB). Run it on an
 * otherwise idle machine: every figure is a rate.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSample, parseByteSize } from '../src/sample/generate';
import { crc32c } from '../src/verify/crc32c';
import { verify, type VerifyOptions } from '../src/verify/verify';

const MONTH = '2019-Oct';
const SEED = 46;

function rate(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Reads the file once so that every contender finds it in the page cache. */
function warm(file: string): void {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
  while (fs.readSync(fd, buffer) > 0);
  fs.closeSync(fd);
}

async function duckdb(file: string): Promise<number> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(
    `SELECT event_type, count(*) FROM read_csv('${file.replace(/'/g, "''")}', header = true) GROUP BY event_type`,
  );
  const rows = reader.getRows().reduce((sum, row) => sum + Number(row[1]), 0);
  connection.closeSync();
  return rows;
}

async function csvParse(file: string, limitBytes: number): Promise<number> {
  const { parse } = await import('csv-parse');
  let rows = 0;
  const parser = fs.createReadStream(file, { end: limitBytes - 1 }).pipe(parse({ relax_column_count: true }));
  for await (const record of parser as AsyncIterable<string[]>) if (record.length > 0) rows += 1;
  return rows;
}

/** Peak resident memory of a verification alone, in a process of its own (worker threads included). */
function verifyPeakMiB(file: string, md5: boolean): number {
  const args = ['--import', 'tsx', __filename, '--peak', file, ...(md5 ? ['--md5'] : [])];
  return Number(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim());
}

async function main(): Promise<void> {
  if (process.argv[2] === '--peak') {
    await verify(process.argv[3] ?? '', { md5: process.argv[4] === '--md5' });
    console.log((process.resourceUsage().maxRSS / 1024).toFixed(0)); // maxRSS is in kibibytes
    return;
  }
  const size = parseByteSize(process.argv[2] ?? '1GiB');
  const cpus = os.availableParallelism();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coleta-bench-verify-'));
  try {
    // Step 1: the input, generated and in the page cache
    console.log(
      `generating ${(size / 1e6).toFixed(0)} MB of ${MONTH} (seed ${SEED}); ` +
        `${cpus} CPUs; load ${os.loadavg()[0]?.toFixed(2)}`,
    );
    await generateSample({ root, seed: SEED, bytesPerMonth: size, months: [MONTH] });
    const file = path.join(root, 'datasets/marketplace', `${MONTH}.csv`);
    const bytes = fs.statSync(file).size;
    warm(file);
    const run = (options: VerifyOptions) => timed(() => verify(file, options));

    // Step 2: the full verification, then the contenders
    const full = await run({});
    const fullRate = rate(bytes, full.ms);
    console.log(`verify (${cpus} threads): ${fullRate.toFixed(0)} MB/s, ${full.value.rows} rows, ok ${full.value.ok}`);
    const duck = await timed(() => duckdb(file));
    const duckRate = rate(bytes, duck.ms);
    console.log(`duckdb count(*) + group by: ${duckRate.toFixed(0)} MB/s (${duck.value} rows)`);
    const sampleBytes = Math.min(bytes, 200 * 1024 * 1024); // csv-parse is slow: a part is enough for its rate
    const parsed = await timed(() => csvParse(file, sampleBytes));
    const parseRate = rate(sampleBytes, parsed.ms);
    console.log(`csv-parse (first ${(sampleBytes / 1e6).toFixed(0)} MB): ${parseRate.toFixed(0)} MB/s`);

    // Step 3: with MD5, against md5sum
    const withMd5 = await run({ md5: true });
    const md5Rate = rate(bytes, withMd5.ms);
    const md5sum = await timed(async () => execFileSync('md5sum', [file]));
    const md5sumRate = rate(bytes, md5sum.ms);
    console.log(`verify --md5: ${md5Rate.toFixed(0)} MB/s; md5sum: ${md5sumRate.toFixed(0)} MB/s`);

    // Step 4: scaling with threads, of CRC32C alone and of the whole validation
    const crc = await timed(async () => {
      const fd = fs.openSync(file, 'r');
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      let value = 0;
      for (let read; (read = fs.readSync(fd, buffer)) > 0;) value = crc32c(buffer.subarray(0, read), value);
      fs.closeSync(fd);
      return value;
    });
    console.log(`crc32c alone, one thread: ${rate(bytes, crc.ms).toFixed(0)} MB/s`);
    const scaling: string[] = [];
    let one = 0;
    for (let threads = 1; threads <= cpus; threads += 1) {
      const result = await run({ threads, minParallelBytes: 0 });
      const r = rate(bytes, result.ms);
      if (threads === 1) one = r;
      scaling.push(`${threads}: ${r.toFixed(0)} MB/s (x${(r / one).toFixed(2)})`);
    }
    console.log(`validation + crc32c by threads: ${scaling.join(', ')}`);

    // Step 5: the verdicts
    const peak = Math.max(verifyPeakMiB(file, false), verifyPeakMiB(file, true));
    console.log(`peak RSS of a verification, with and without MD5: ${peak} MiB`);
    const verdicts: [string, boolean][] = [
      ['at least as fast as DuckDB', fullRate >= duckRate],
      ['at least 10x csv-parse', fullRate >= 10 * parseRate],
      ['with MD5, at least 85 % of md5sum', md5Rate >= 0.85 * md5sumRate],
      ['peak memory under 300 MB', peak * 1.048576 < 300],
    ];
    for (const [what, met] of verdicts) console.log(`${met ? 'met    ' : 'NOT MET'} ${what}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

void main();
