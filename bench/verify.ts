/**
 * Benchmark of the verifier on a generated month of at least 1 GiB, read from the page cache: the full
 * verification against DuckDB (count(*) and a group-by over read_csv) and csv-parse, the verification with
 * MD5 against `md5sum`, peak resident memory, and how CRC32C and validation scale with threads.
 *
 * Usage: `npm run bench:verify [-- size [rounds]]`, size as in `coleta sample --size` (default 1GiB), rounds
 * of the side-by-side runs (default 3). Run it on an otherwise idle machine: every figure is a rate. The
 * contenders run in turn, round after round, and each keeps its best round, so that a passing load weighs on
 * all of them alike. On Linux each round first waits, up to 2 minutes, for the processors to be idle (other
 * work under a tenth of them), and prints how busy they were and the load.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSample, parseByteSize } from '../src/sample/generate';
import { KAGGLE_OWNER, KAGGLE_SLUG, KAGGLE_VERSION } from '../src/sample/layout';
import { crc32c } from '../src/verify/crc32c';
import { verify, type VerifyOptions } from '../src/verify/verify';

const MONTH = '2019-Oct';
const SEED = 46;
const KAGGLE_PATH = `${KAGGLE_OWNER}/${KAGGLE_SLUG}/${KAGGLE_VERSION}`;

function rate(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** The share of the processors' time spent on anything but idling, over `ms`, from /proc/stat; null elsewhere. */
async function busyShare(ms: number): Promise<number | null> {
  const sample = () => {
    // cpu user nice system idle iowait irq softirq steal ...
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total };
  };
  if (!fs.existsSync('/proc/stat')) return null;
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

/** Waits, up to 2 minutes, for the processors to be idle; returns how busy they were last, as text. */
async function waitForIdle(): Promise<string> {
  const started = Date.now();
  let busy = await busyShare(2000);
  while (busy !== null && busy > 0.1 && Date.now() - started < 120_000) busy = await busyShare(2000);
  const share = busy === null ? 'unknown' : `${(busy * 100).toFixed(0)} %`;
  return `processors busy ${share} before, load ${os.loadavg()[0]?.toFixed(2)}`;
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
  instance.closeSync();
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

    // Step 2: the full verification and its contenders, in turn, round after round; each keeps its best
    const rounds = Math.max(1, Number(process.argv[3] ?? 3));
    const best = { full: 0, duck: 0, md5: 0, md5sum: 0 };
    let rows = 0;
    let md5Ok = true;
    for (let round = 1; round <= rounds; round += 1) {
      const quiet = await waitForIdle();
      const full = await run({});
      rows = full.value.rows;
      best.full = Math.max(best.full, rate(bytes, full.ms));
      const duck = await timed(() => duckdb(file));
      if (duck.value !== rows) throw new Error(`duckdb counted ${duck.value} rows, the verifier ${rows}`);
      best.duck = Math.max(best.duck, rate(bytes, duck.ms));
      const withMd5 = await run({ md5: true });
      md5Ok &&= withMd5.value.ok && withMd5.value.md5 !== null;
      best.md5 = Math.max(best.md5, rate(bytes, withMd5.ms));
      const md5sum = await timed(async () => execFileSync('md5sum', [file]));
      best.md5sum = Math.max(best.md5sum, rate(bytes, md5sum.ms));
      console.log(
        `round ${round} (${quiet}): verify ${rate(bytes, full.ms).toFixed(0)}, ` +
          `duckdb ${rate(bytes, duck.ms).toFixed(0)}, verify --md5 ${rate(bytes, withMd5.ms).toFixed(0)}, ` +
          `md5sum ${rate(bytes, md5sum.ms).toFixed(0)} MB/s`,
      );
    }
    const fullRate = best.full;
    const duckRate = best.duck;
    const md5Rate = best.md5;
    const md5sumRate = best.md5sum;
    console.log(`verify (${cpus} threads): ${fullRate.toFixed(0)} MB/s, ${rows} rows`);
    console.log(`duckdb count(*) + group by: ${duckRate.toFixed(0)} MB/s`);
    console.log(`verify --md5: ${md5Rate.toFixed(0)} MB/s (ok ${md5Ok}); md5sum: ${md5sumRate.toFixed(0)} MB/s`);
    const sampleBytes = Math.min(bytes, 200 * 1024 * 1024); // csv-parse is slow: a part is enough for its rate
    const parsed = await timed(() => csvParse(file, sampleBytes));
    const parseRate = rate(sampleBytes, parsed.ms);
    console.log(`csv-parse (first ${(sampleBytes / 1e6).toFixed(0)} MB): ${parseRate.toFixed(0)} MB/s`);

    // Step 3: the same month as Kaggle serves it, zipped: inflated on the main thread, checked by the others
    const zipFile = path.join(root, 'kaggle', KAGGLE_PATH, `${MONTH}.csv.zip`);
    warm(zipFile);
    const zipped = await timed(() => verify(zipFile, {}));
    console.log(
      `verify .csv.zip: ${rate(zipped.value.csvBytes, zipped.ms).toFixed(0)} MB/s of CSV ` +
        `(${rate(zipped.value.bytes, zipped.ms).toFixed(0)} MB/s of zip), ok ${zipped.value.ok}`,
    );

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
    // each thread count in turn, round after round, keeping its best
    const byThreads = Array.from({ length: cpus }, () => 0);
    for (let round = 1; round <= rounds; round += 1) {
      console.log(`scaling round ${round} (${await waitForIdle()})`);
      for (let threads = 1; threads <= cpus; threads += 1) {
        const result = await run({ threads, minParallelBytes: 0 });
        byThreads[threads - 1] = Math.max(byThreads[threads - 1] as number, rate(bytes, result.ms));
      }
    }
    const one = byThreads[0] as number;
    const scaling = byThreads.map((r, i) => `${i + 1}: ${r.toFixed(0)} MB/s (x${(r / one).toFixed(2)})`);
    console.log(`validation + crc32c by threads: ${scaling.join(', ')}`);
    const speedUp = (byThreads[cpus - 1] as number) / one;

    // Step 5: the verdicts
    const peak = Math.max(verifyPeakMiB(file, false), verifyPeakMiB(file, true));
    console.log(`peak RSS of a verification, with and without MD5: ${peak} MiB`);
    const verdicts: [string, boolean][] = [
      ['at least as fast as DuckDB', fullRate >= duckRate],
      ['at least 10x csv-parse', fullRate >= 10 * parseRate],
      ['with MD5, at least 85 % of md5sum', md5Rate >= 0.85 * md5sumRate],
      [`near-linear scaling over ${cpus} threads (x${speedUp.toFixed(2)})`, speedUp >= 0.9 * cpus],
      ['peak memory under 300 MB', peak * 1.048576 < 300],
    ];
    for (const [what, met] of verdicts) console.log(`${met ? 'met    ' : 'NOT MET'} ${what}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

void main();
