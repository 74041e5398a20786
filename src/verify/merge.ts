/**
 * Joins the results of a file's blocks, in file order, into the file's: counts add up, line numbers of
 * examples shift by the lines before their block, and what spans a block boundary is joined there (a row
 * earlier than the previous block's last row is out of order; equal rows with the same event_time on both
 * sides of a boundary are duplicates).
 */
import { EXAMPLES_PER_KIND } from './scanner';
import { type BlockResult, type TimeRun, VIOLATION_KINDS, type ViolationExample, type ViolationKind } from './types';

/**
 * The file's counts, joined from its blocks: a block's fields, less what only joining needs (its index and time runs),
 * with the violations gathered by kind and the header known.
 */
export type MergedBlocks = Omit<
  BlockResult,
  'index' | 'header' | 'violations' | 'examples' | 'headRun' | 'tailRun' | 'oneRun'
> & {
  header: 'ok' | 'wrong' | 'none';
  violations: Map<ViolationKind, { count: number; examples: ViolationExample[] }>;
};

/** Merges block results given in file order (the first block holds line 1). */
export function mergeBlocks(blocks: readonly BlockResult[]): MergedBlocks {
  const merged: MergedBlocks = {
    bytes: 0,
    lines: 0,
    rows: 0,
    crlf: 0,
    quotedRows: 0,
    invalidRows: 0,
    header: 'none',
    endsWithNewline: false,
    violations: new Map(VIOLATION_KINDS.map((kind) => [kind, { count: 0, examples: [] }])),
    stopped: false,
    eventTypes: [],
    empty: [],
    firstTime: -1,
    lastTime: -1,
    minTime: -1,
    maxTime: -1,
    outOfOrder: 0,
    priceCount: 0,
    priceCents: 0,
    priceMin: Infinity,
    priceMax: -Infinity,
    priceNonPositive: 0,
    categoryMin: null,
    categoryMax: null,
    duplicates: 0,
  };
  let tail: TimeRun | null = null;
  for (const block of blocks) {
    if (block.header !== 'not-first') merged.header = block.header;
    if (block.bytes > 0) merged.endsWithNewline = block.endsWithNewline;
    for (const { kind, example } of block.examples) {
      const entry = merged.violations.get(kind);
      if (entry && entry.examples.length < EXAMPLES_PER_KIND) {
        entry.examples.push({ ...example, line: example.line + merged.lines });
      }
    }
    VIOLATION_KINDS.forEach((kind, i) => {
      const entry = merged.violations.get(kind);
      if (entry) entry.count += block.violations[i] ?? 0;
    });
    merged.bytes += block.bytes;
    merged.lines += block.lines;
    merged.rows += block.rows;
    merged.crlf += block.crlf;
    merged.quotedRows += block.quotedRows;
    merged.invalidRows += block.invalidRows;
    merged.stopped ||= block.stopped;
    merged.eventTypes = addArrays(merged.eventTypes, block.eventTypes);
    merged.empty = addArrays(merged.empty, block.empty);

    if (block.firstTime >= 0) {
      if (merged.lastTime >= 0 && block.firstTime < merged.lastTime) merged.outOfOrder += 1;
      if (merged.firstTime < 0) merged.firstTime = block.firstTime;
      merged.lastTime = block.lastTime;
      merged.minTime = merged.minTime < 0 ? block.minTime : Math.min(merged.minTime, block.minTime);
      merged.maxTime = Math.max(merged.maxTime, block.maxTime);
    }
    merged.outOfOrder += block.outOfOrder;

    merged.priceCount += block.priceCount;
    merged.priceCents += block.priceCents;
    merged.priceMin = Math.min(merged.priceMin, block.priceMin);
    merged.priceMax = Math.max(merged.priceMax, block.priceMax);
    merged.priceNonPositive += block.priceNonPositive;
    merged.categoryMin = extreme(merged.categoryMin, block.categoryMin, (a, b) => a < b);
    merged.categoryMax = extreme(merged.categoryMax, block.categoryMax, (a, b) => a > b);

    merged.duplicates += block.duplicates;
    tail = joinRuns(merged, tail, block);
  }
  return merged;
}

/**
 * Counts the duplicates across the boundary before `block` and returns the run that ends the file so far.
 * A block of one run extends the run before it when both have the same event_time.
 */
function joinRuns(merged: MergedBlocks, tail: TimeRun | null, block: BlockResult): TimeRun | null {
  const head = block.headRun;
  if (head === null || block.tailRun === null) return tail;
  if (tail === null || tail.time !== head.time) return block.tailRun;
  const before = new Set(tail.hashes);
  for (const hash of head.hashes) if (before.has(hash)) merged.duplicates += 1;
  if (!block.oneRun) return block.tailRun;
  for (const hash of head.hashes) before.add(hash);
  return { time: tail.time, hashes: [...before] };
}

function addArrays(a: readonly number[], b: readonly number[]): number[] {
  return b.map((value, i) => value + (a[i] ?? 0));
}

function extreme(a: string | null, b: string | null, better: (x: bigint, y: bigint) => boolean): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return better(BigInt(b), BigInt(a)) ? b : a;
}
