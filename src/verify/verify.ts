/**
 * The streaming verifier: checks a collected file (local or a Cloud Storage object; a plain CSV, a gzip, or a
 * zip of one CSV as Kaggle serves them) against the dataset's schema, profiles it, and computes Cloud Storage's
 * two checksums of its bytes, in one pass, with memory bounded whatever the file's size. The integrity step of
 * a collection uses it, and `coleta verify` runs it on its own.
 *
 * Two ways to split the work over threads:
 * - **ranges** (a plain CSV, no MD5 asked): the input is cut into one byte range per thread; each thread
 *   reads its range itself, validates its lines and computes the range's CRC32C, and the ranges' CRCs are
 *   combined into the whole input's (see `./crc32c.ts`). Nothing passes through the main thread.
 * - **blocks** (gzip, zip, or MD5 asked): MD5 cannot be split, and a gzip or a deflated zip entry cannot be
 *   entered midway, so the main thread reads the input in order, computes the checksums it must (of the bytes
 *   as stored: those are what Cloud Storage reports), inflates if needed, and hands the CSV out in chunks cut
 *   anywhere (see `./chunks.ts`): the threads find the line ends, and the lines split by a cut are joined when
 *   the results are. For a plain CSV the threads compute the chunks' CRC32Cs too, so that the main thread
 *   only reads and computes the MD5, which bounds the pace.
 *
 * Either way the threads' results are merged in file order (see `./merge.ts`).
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { COLUMNS, EVENT_TYPES } from '../dataset/schema';
import { crc32cBase64, crc32cCombine } from './crc32c';
import { ChunkDispatcher } from './chunks';
import { HLL_RELATIVE_ERROR, hllEstimate, hllMerge } from './hyperloglog';
import { type MergedBlocks, mergeBlocks } from './merge';
import { InlinePool, type TaskPool, ThreadPool } from './pool';
import { newSketches, timeText } from './scanner';
import { inspect, type InputInfo, openStream, parseTarget, type StorageOptions } from './sources';
import {
  type ChecksumCheck,
  type Packaging,
  type RangeResult,
  type Sketches,
  VIOLATION_MEANINGS,
  type VerifyReport,
} from './types';
import { DEFLATED, type ZipLayout, ZipEntryBytes, ZipProblem } from './zip';

/** How to verify. */
export interface VerifyOptions {
  /**
   * Threads that validate; by default one per core, less one in the block mode (a gzip, a zip, or MD5 asked),
   * where the main thread reads the input in order and keeps a core busy of its own.
   */
  threads?: number;
  /** Also compute the MD5 (sequential, see the module comment). Implied by `expectMd5`. */
  md5?: boolean;
  /** Stop at the first violation. */
  failFast?: boolean;
  /** Expected checksums (base64), compared with the computed ones. */
  expectMd5?: string;
  expectCrc32c?: string;
  /** Inputs smaller than this run in the main thread, without worker threads; default 8 MiB. */
  minParallelBytes?: number;
  /** Bytes of the chunks the main thread hands out; default 4 MiB. */
  blockBytes?: number;
  /** The Cloud Storage client's endpoint and project; by default the library's (and STORAGE_EMULATOR_HOST). */
  storage?: StorageOptions;
}

const DEFAULT_MIN_PARALLEL_BYTES = 8 * 1024 * 1024;
const DEFAULT_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * Verifies `target` (a path or `gs://bucket/object`) and returns the report. Bad input (a missing file or
 * object, a malformed URL) throws an `InputError`; a truncated gzip or zip, or a zip of more than one entry, is
 * a problem of the report.
 */
export async function verify(target: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const info = await inspect(parseTarget(target), options.storage);
  const md5 = options.md5 === true || options.expectMd5 !== undefined;
  const blocks = info.packaging !== 'none' || md5;
  // the reading thread of the block mode is a thread more on the cores: with a worker per core, it had only its
  // share of one, and it sets the pace (measured with MD5 on 2 cores: 370-554 MB/s with 2 workers, 555-604 with 1)
  const cores = os.availableParallelism();
  const wanted = Math.max(1, Math.floor(options.threads ?? (blocks && cores > 1 ? cores - 1 : cores)));
  const small = info.size < (options.minParallelBytes ?? DEFAULT_MIN_PARALLEL_BYTES);
  const inline = small || (options.threads === undefined ? cores === 1 : wanted === 1);
  const pool: TaskPool = inline ? new InlinePool() : new ThreadPool(wanted);
  const failFast = options.failFast === true;

  let outcome: Outcome;
  try {
    outcome = blocks
      ? await verifyBlocks(info, pool, { md5, failFast, blockBytes: options.blockBytes ?? DEFAULT_BLOCK_BYTES })
      : await verifyRanges(info, pool, failFast);
  } catch (error) {
    await pool.close();
    throw error;
  }
  return report(target, info, options, outcome, pool.threads, performance.now() - started);
}

/** What a pass over the input found. */
interface Outcome {
  mode: 'ranges' | 'blocks';
  parts: number;
  merged: MergedBlocks;
  sketches: Sketches;
  crc32c: number | null;
  md5: string | null;
  /** What is wrong with the input itself (a truncated gzip, a zip of two entries), a sentence each. */
  problems: string[];
}

/**
 * Bytes of a range at most, when the input holds more than one range per thread of them: ranges are handed out to
 * the threads as they come free, so that a thread slowed down for a while (by other work on the machine) does not
 * hold the others up with its fixed share of the input (measured on 1 GiB with 2 threads: runs of a half each
 * ranged 851 to 1073 MB/s, and one thread sometimes waited a quarter of the time for the other).
 */
const RANGE_BYTES = 32 * 1024 * 1024;

/** Byte ranges, at least one per thread, each read by the thread that takes it; their CRCs combined in order. */
async function verifyRanges(info: InputInfo, pool: TaskPool, failFast: boolean): Promise<Outcome> {
  const parts = Math.max(1, Math.min(info.size, Math.max(pool.threads, Math.ceil(info.size / RANGE_BYTES))));
  const step = Math.ceil(info.size / parts);
  const results: RangeResult[] = [];
  let next = 0;
  // as many ranges in flight as threads; the next goes to the thread that is done with one
  const take = async (): Promise<void> => {
    while (next < parts) {
      const index = next++;
      const start = index * step;
      const end = Math.min(info.size, start + step);
      const task = { type: 'range' as const, index, source: info.source, start, end, size: info.size, failFast };
      results[index] = (await pool.run(task)) as RangeResult;
    }
  };
  await Promise.all(Array.from({ length: Math.min(pool.threads, parts) }, take));
  const sketches = await pool.finish();
  let crc = 0;
  results.forEach((result, index) => {
    const length = Math.min(info.size, (index + 1) * step) - index * step;
    crc = index === 0 ? result.crc32c : crc32cCombine(crc, result.crc32c, length);
  });
  const merged = mergeBlocks(results.map((result) => result.block));
  return {
    mode: 'ranges',
    parts,
    merged,
    sketches,
    crc32c: merged.stopped ? null : info.size === 0 ? 0 : crc,
    md5: null,
    problems: [],
  };
}

/**
 * The main thread reads in order, hashes, inflates when packed, and hands out chunks (see `./chunks.ts`). A
 * plain local file is read in pieces straight into the chunks, each piece hashed while it is fresh in the cache,
 * and the workers compute the chunks' CRC32Cs; a stream (an object, or a packed file) is hashed as it comes and
 * its CSV copied into chunks.
 */
async function verifyBlocks(
  info: InputInfo,
  pool: TaskPool,
  options: { md5: boolean; failFast: boolean; blockBytes: number },
): Promise<Outcome> {
  const md5 = options.md5 ? createHash('md5') : null;
  const packed = info.packaging !== 'none';
  const sketches = newSketches();
  const chunks = new ChunkDispatcher(pool, {
    chunkBytes: options.blockBytes,
    crc32c: !packed,
    failFast: options.failFast,
    sketches,
  });
  // the CRC32C of a packed input is of its bytes as stored, before inflating, so it is computed here
  let storedCrc = 0;
  const problems: string[] = [];
  let broken = false;

  if (info.source.kind === 'file' && !packed) {
    await readFileInto(info.source.path, info.size, chunks, md5);
  } else {
    const zip = info.packaging === 'zip' ? zipEntry(info, problems) : null;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        md5?.update(chunk);
        if (packed) storedCrc = crc32c(chunk, storedCrc);
        callback(null, chunk);
      },
    });
    // the zip's own CRC-32 and size of the CSV inside, checked as it comes
    let entryCrc = 0;
    let entryBytes = 0;
    // a zip whose entry cannot be found is still read whole, for its checksums
    const unreadable = zip !== null && zip.method === undefined;
    const consume = async (csv: AsyncIterable<Buffer>) => {
      for await (const chunk of csv) {
        if (chunks.stopped) return;
        if (unreadable) continue;
        if (zip) {
          entryCrc = zlib.crc32(chunk, entryCrc);
          entryBytes += chunk.length;
        }
        await chunks.write(chunk);
      }
    };
    const stages: NodeJS.ReadWriteStream[] = [hashing];
    if (info.packaging === 'gzip') stages.push(zlib.createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }));
    if (zip && !unreadable) stages.push(zip.entry);
    if (zip?.method === DEFLATED) stages.push(zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES }));
    try {
      // stages chosen at run time, which pipeline's typed overloads cannot express
      const run = pipeline as unknown as (...stages: unknown[]) => Promise<void>;
      await run(openStream(info.source), ...stages, consume);
      const entry = zip?.layout?.entry;
      if (entry && !chunks.stopped) {
        if (entryBytes !== entry.uncompressedBytes) {
          problems.push(
            `zip: ${entry.name} holds ${entryBytes} bytes of CSV; its directory says ${entry.uncompressedBytes}`,
          );
        } else if (entryCrc >>> 0 !== entry.crc32 >>> 0) {
          problems.push(`zip: the CRC-32 of ${entry.name} does not match the one its directory gives`);
        }
      }
    } catch (failure) {
      const message = packingFailure(failure, info.packaging);
      if (message === null) throw failure;
      // a damaged gzip or zip: what was inflated is still validated, except its last line, which may be cut
      problems.push(`${message}${chunks.empty ? ', before any CSV' : ''}`);
      broken = true;
    }
  }

  const { blocks, chunks: parts, crc32c: chunksCrc } = await chunks.finish(broken);
  const threadSketches = await pool.finish();
  hllMerge(sketches.users, threadSketches.users);
  hllMerge(sketches.sessions, threadSketches.sessions);
  const merged = mergeBlocks(blocks);
  const complete = !merged.stopped && !chunks.stopped;
  return {
    mode: 'blocks',
    parts,
    merged,
    sketches,
    crc32c: complete ? (packed ? storedCrc >>> 0 : chunksCrc) : null,
    md5: complete && md5 ? md5.digest('base64') : null,
    problems,
  };
}

/** Bytes of a plain file read at a time: each piece is hashed while it is still in the processor's cache. */
const PIECE_BYTES = 256 * 1024;
/** Bytes of inflated CSV that zlib hands over at a time. */
const INFLATE_CHUNK_BYTES = 256 * 1024;

/**
 * Reads a plain local file in order, in pieces straight into the chunks, hashing each piece as it is read. The
 * reads are synchronous: the thread has nothing else to do meanwhile, and the workers' results wait for the
 * next chunk's hand-out.
 */
async function readFileInto(file: string, size: number, chunks: ChunkDispatcher, md5: Hash | null): Promise<void> {
  const fd = fs.openSync(file, 'r');
  try {
    for (let position = 0; position < size && !chunks.stopped;) {
      const space = chunks.space();
      const wanted = Math.min(space.length, size - position);
      for (let filled = 0; filled < wanted;) {
        const read = fs.readSync(fd, space, filled, Math.min(PIECE_BYTES, wanted - filled), position);
        if (read === 0) throw new Error(`${file} ended at ${position} bytes, before ${size}: it changed while read`);
        md5?.update(space.subarray(filled, filled + read));
        filled += read;
        position += read;
      }
      await chunks.filled(wanted);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * How a zip's entry is taken out of it: the transform that passes its stored bytes, and its compression method;
 * the problems of the zip (more than one entry, no readable central directory) are added to `problems`. With no
 * method, nothing can be read.
 */
function zipEntry(
  info: InputInfo,
  problems: string[],
): { entry: ZipEntryBytes; method: number | undefined; layout: ZipLayout | null } {
  const zip = info.zip;
  if (!zip || 'problem' in zip) {
    problems.push(zip?.problem ?? 'zip: no central directory');
    // the entry is then taken from the first local header on, as far as the file goes
    return { entry: new ZipEntryBytes(null), method: zip?.method, layout: null };
  }
  if (zip.entries > 1) {
    const names = zip.names.join(', ') + (zip.entries > zip.names.length ? ', ...' : '');
    problems.push(
      `zip: ${zip.entries} entries (${names}), where a download holds one CSV: only the first, ` +
        `${zip.entry.name}, was checked`,
    );
  }
  return { entry: new ZipEntryBytes(zip.entry), method: zip.entry.method, layout: zip };
}

/** The report's sentence for a failure of the packing (a damaged gzip or zip), or null for any other failure. */
function packingFailure(failure: unknown, packaging: Packaging): string | null {
  if (failure instanceof ZipProblem) return failure.message;
  const code = (failure as NodeJS.ErrnoException).code ?? '';
  if (packaging === 'none' || !(code.startsWith('Z_') || /gzip|header check/i.test((failure as Error).message))) {
    return null;
  }
  return `${packaging}: ${(failure as Error).message}`;
}

/** Builds the report, with its checks and problems. */
function report(
  source: string,
  info: InputInfo,
  options: VerifyOptions,
  outcome: Outcome,
  threads: number,
  elapsedMs: number,
): VerifyReport {
  const { merged } = outcome;
  const crc = outcome.crc32c === null ? null : crc32cBase64(outcome.crc32c);
  const checks: ChecksumCheck[] = [];
  const check = (algorithm: ChecksumCheck['algorithm'], from: ChecksumCheck['from'], expected?: string) => {
    const actual = algorithm === 'crc32c' ? crc : outcome.md5;
    if (expected !== undefined && actual !== null) {
      checks.push({ algorithm, from, expected, actual, match: expected === actual });
    }
  };
  check('crc32c', 'object metadata', info.stored.crc32c);
  check('md5', 'object metadata', info.stored.md5);
  check('crc32c', '--expect-crc32c', options.expectCrc32c);
  check('md5', '--expect-md5', options.expectMd5);

  const rows = merged.rows;
  const share = (count: number) => ({ rows: count, share: rows === 0 ? 0 : count / rows });
  const violations = [...merged.violations]
    .filter(([, entry]) => entry.count > 0)
    .map(([kind, entry]) => ({ kind, meaning: VIOLATION_MEANINGS[kind], ...entry }));

  const problems = [...outcome.problems];
  if (merged.header === 'none' && problems.length === 0) problems.push('the file is empty: not even a header line');
  for (const violation of violations) {
    const first = violation.examples[0];
    problems.push(
      `${violation.kind}: ${violation.count} (${violation.meaning})${first ? `, first at line ${first.line}` : ''}`,
    );
  }
  for (const failed of checks.filter((c) => !c.match)) {
    problems.push(`${failed.algorithm} ${failed.actual} does not match ${failed.expected} (${failed.from})`);
  }
  if (merged.stopped) problems.push('stopped at the first violation (--fail-fast): the rest was not checked');

  const time = (key: number) => (key < 0 ? null : timeText(key));
  return {
    source,
    packaging: info.packaging,
    gzip: info.packaging === 'gzip',
    bytes: info.size,
    csvBytes: merged.bytes,
    mode: outcome.mode,
    threads,
    parts: outcome.parts,
    crc32c: crc,
    md5: outcome.md5,
    checks,
    stoppedEarly: merged.stopped,
    lines: merged.lines,
    rows,
    invalidRows: merged.invalidRows,
    format: {
      header: merged.header,
      crlfLines: merged.crlf,
      finalNewline: merged.endsWithNewline,
      quotedRows: merged.quotedRows,
    },
    violations,
    profile: {
      firstEventTime: time(merged.firstTime),
      lastEventTime: time(merged.lastTime),
      minEventTime: time(merged.minTime),
      maxEventTime: time(merged.maxTime),
      outOfOrderRows: merged.outOfOrder,
      eventTypes: Object.fromEntries(EVENT_TYPES.map((type, i) => [type, share(merged.eventTypes[i] ?? 0)])),
      emptyValues: Object.fromEntries(COLUMNS.map((column, i) => [column, share(merged.empty[i] ?? 0)])),
      price: {
        min: merged.priceCount > 0 ? merged.priceMin : null,
        max: merged.priceCount > 0 ? merged.priceMax : null,
        mean: merged.priceCount > 0 ? merged.priceCents / 100 / merged.priceCount : null,
        nonPositiveRows: merged.priceNonPositive,
      },
      categoryId: { min: merged.categoryMin, max: merged.categoryMax },
      distinctUsers: { estimate: hllEstimate(outcome.sketches.users), relativeError: HLL_RELATIVE_ERROR },
      distinctSessions: { estimate: hllEstimate(outcome.sketches.sessions), relativeError: HLL_RELATIVE_ERROR },
      duplicateRows: merged.duplicates,
    },
    elapsedMs: Math.round(elapsedMs),
    problems,
    ok: problems.length === 0,
  };
}
