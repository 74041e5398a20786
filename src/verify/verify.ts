/**
 * The streaming verifier: checks a collected file (local, gzip, or a Cloud Storage object) against the
 * dataset's schema, profiles it, and computes Cloud Storage's two checksums of its bytes, in one pass, with
 * memory bounded whatever the file's size. The integrity step of a collection uses it, and `coleta verify`
 * runs it on its own.
 *
 * Two ways to split the work over threads:
 * - **ranges** (a plain CSV, no MD5 asked): the input is cut into one byte range per thread; each thread
 *   reads its range itself, validates its lines and computes the range's CRC32C, and the ranges' CRCs are
 *   combined into the whole input's (see `./crc32c.ts`). Nothing passes through the main thread.
 * - **blocks** (gzip, or MD5 asked): MD5 cannot be split and gzip cannot be entered midway, so the main
 *   thread reads the input in order, computes its checksums (of the compressed bytes for gzip: those are what
 *   Cloud Storage reports), inflates it if needed, cuts the CSV into blocks of whole lines and hands them to
 *   the threads. MD5 on the one main thread is then the ceiling of the pace.
 *
 * Either way the threads' results are merged in file order (see `./merge.ts`).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { COLUMNS, EVENT_TYPES } from '../dataset/schema';
import { crc32cBase64, crc32cCombine } from './crc32c';
import { HLL_RELATIVE_ERROR, hllEstimate } from './hyperloglog';
import { type MergedBlocks, mergeBlocks } from './merge';
import { InlinePool, type TaskPool, ThreadPool } from './pool';
import { timeText } from './scanner';
import { inspect, type InputInfo, openStream, parseTarget, type StorageOptions } from './sources';
import {
  type BlockResult,
  type ChecksumCheck,
  type RangeResult,
  type Sketches,
  VIOLATION_MEANINGS,
  type VerifyReport,
} from './types';

/** How to verify. */
export interface VerifyOptions {
  /** Threads that validate; default `os.availableParallelism()`. */
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
  /** Bytes of the blocks the main thread hands out; default 4 MiB. */
  blockBytes?: number;
  /** The Cloud Storage client's endpoint and project; by default the library's (and STORAGE_EMULATOR_HOST). */
  storage?: StorageOptions;
}

const DEFAULT_MIN_PARALLEL_BYTES = 8 * 1024 * 1024;
const DEFAULT_BLOCK_BYTES = 4 * 1024 * 1024;
/** Blocks handed out and not yet done, per thread: enough to keep threads busy, few enough to bound memory. */
const BLOCKS_IN_FLIGHT_PER_THREAD = 2;

/**
 * Verifies `target` (a path or `gs://bucket/object`) and returns the report. Bad input (a missing file or
 * object, a malformed URL) throws an `InputError`; a truncated gzip is a problem of the report.
 */
export async function verify(target: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const info = await inspect(parseTarget(target), options.storage);
  const md5 = options.md5 === true || options.expectMd5 !== undefined;
  const wanted = Math.max(1, Math.floor(options.threads ?? os.availableParallelism()));
  const small = info.size < (options.minParallelBytes ?? DEFAULT_MIN_PARALLEL_BYTES);
  const pool: TaskPool = small || wanted === 1 ? new InlinePool() : new ThreadPool(wanted);
  const failFast = options.failFast === true;

  let outcome: Outcome;
  try {
    outcome =
      info.gzip || md5
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
  /** A failure of the input itself (a truncated gzip), as a sentence. */
  error: string | null;
}

/** One range per thread, each read by its thread; the ranges' CRCs combined in order. */
async function verifyRanges(info: InputInfo, pool: TaskPool, failFast: boolean): Promise<Outcome> {
  const parts = Math.max(1, Math.min(pool.threads, info.size));
  const step = Math.ceil(info.size / parts);
  const tasks: Promise<BlockResult | RangeResult>[] = [];
  for (let index = 0; index < parts; index += 1) {
    const start = index * step;
    const end = Math.min(info.size, start + step);
    tasks.push(pool.run({ type: 'range', index, source: info.source, start, end, size: info.size, failFast }));
  }
  const results = (await Promise.all(tasks)) as RangeResult[];
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
    error: null,
  };
}

/** The main thread reads in order, hashes, inflates, and hands out blocks of whole lines. */
async function verifyBlocks(
  info: InputInfo,
  pool: TaskPool,
  options: { md5: boolean; failFast: boolean; blockBytes: number },
): Promise<Outcome> {
  const md5 = options.md5 ? createHash('md5') : null;
  let crc = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      md5?.update(chunk);
      crc = crc32c(chunk, crc);
      callback(null, chunk);
    },
  });
  const results: Promise<BlockResult | RangeResult>[] = [];
  // only the tasks in flight are raced: racing all of them would pile up reactions on every finished one
  const inFlight = new Set<Promise<unknown>>();
  let stopped = false;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const maxInFlight = BLOCKS_IN_FLIGHT_PER_THREAD * pool.threads;

  const dispatch = async (block: Buffer) => {
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const index = results.length;
    // a copy that the thread takes over: the block's bytes are shared with the ones still to be cut
    const buffer = new ArrayBuffer(block.length);
    new Uint8Array(buffer).set(block);
    const task = pool.run({ type: 'block', index, buffer, length: block.length, failFast: options.failFast });
    const settled = task.then(
      (result) => {
        stopped ||= (result as BlockResult).stopped;
      },
      () => undefined,
    );
    inFlight.add(settled);
    void settled.finally(() => inFlight.delete(settled));
    results.push(task);
  };
  // cuts what has come so far into blocks of whole lines; a line longer than 4 blocks is cut anyway, to bound
  // memory (and shows as a violation)
  const cut = async (final: boolean) => {
    if (pendingBytes === 0) return;
    const joined = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    let start = 0;
    while (joined.length - start >= options.blockBytes || (final && start < joined.length)) {
      let end = joined.lastIndexOf(10, start + options.blockBytes - 1) + 1;
      if (end <= start) {
        const next = joined.indexOf(10, start + options.blockBytes);
        end = next >= 0 && next < start + 4 * options.blockBytes ? next + 1 : -1;
      }
      if (end <= start) {
        if (!final && joined.length - start < 4 * options.blockBytes) break;
        end = Math.min(joined.length, start + 4 * options.blockBytes);
      }
      if (final && joined.length - start <= options.blockBytes) end = joined.length;
      await dispatch(joined.subarray(start, end));
      start = end;
    }
    const rest = start < joined.length ? Buffer.from(joined.subarray(start)) : null;
    pending = rest ? [rest] : [];
    pendingBytes = rest ? rest.length : 0;
  };

  let error: string | null = null;
  const consume = async (csv: AsyncIterable<Buffer>) => {
    for await (const chunk of csv) {
      if (stopped) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= options.blockBytes) await cut(false);
    }
  };
  try {
    if (info.gzip) await pipeline(openStream(info.source), hashing, createGunzip(), consume);
    else await pipeline(openStream(info.source), hashing, consume);
    if (!stopped) await cut(true);
  } catch (failure) {
    const code = (failure as NodeJS.ErrnoException).code ?? '';
    if (!code.startsWith('Z_') && !(failure instanceof Error && /gzip|header check/i.test(failure.message))) {
      throw failure;
    }
    // a damaged gzip: what was inflated is still validated, except the last line, which it may have cut
    const inflated = results.length === 0 && pendingBytes === 0;
    error = `gzip: ${(failure as Error).message}${inflated ? ', before any CSV' : ''}`;
    const joined = Buffer.concat(pending, pendingBytes);
    const complete = joined.subarray(0, joined.lastIndexOf(10) + 1);
    pending = [complete];
    pendingBytes = complete.length;
    await cut(true);
  }
  const blocks = (await Promise.all(results)) as BlockResult[];
  const sketches = await pool.finish();
  const merged = mergeBlocks(blocks);
  const complete = !merged.stopped && !stopped;
  return {
    mode: 'blocks',
    parts: blocks.length,
    merged,
    sketches,
    crc32c: complete ? crc >>> 0 : null,
    md5: complete && md5 ? md5.digest('base64') : null,
    error,
  };
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

  const problems: string[] = [];
  if (outcome.error) problems.push(outcome.error);
  if (merged.header === 'none' && !outcome.error) problems.push('the file is empty: not even a header line');
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
    gzip: info.gzip,
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
