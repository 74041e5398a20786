/**
 * The row scanner: validates the lines of a CSV against the dataset's schema and profiles them, working on
 * the bytes in place, so no string is made for a valid row; strings are made only for examples of violations
 * and, at the end, for the first and last event_time.
 *
 * Two paths lead through a block:
 * - **the fast path** takes rows of the shape the published files have (a 19-digit category_id, a UUID or empty
 *   user_session, no quotes) and checks each field as it comes, in one walk along the line: fixed-width fields
 *   (event_time, event_type, user_session) are read 4 bytes at a time through a `DataView`, the others byte by
 *   byte up to their comma. It changes nothing until the whole line has passed, and stops at the first line it
 *   cannot take, which goes to the general path. Whether a line holds a quote is known from one native search
 *   of the block, not from the line's bytes.
 * - **the general path** splits any line at commas, checks each field by its column's rule, counts and
 *   describes violations. Lines are parsed per RFC 4180: a line with a double quote is unquoted (a quoted comma
 *   is data, `""` is a quote) and a quoted field may run over line ends.
 *
 * The fast path takes only lines that the general path would find valid, and counts them exactly as it would
 * (the tests compare the two on the same files), so it changes the pace, never the report.
 *
 * A scanner sees one block of whole lines (a byte range of the file, or a block cut by the main thread) fed
 * in chunks of any size; a line cut by a chunk's end is carried over to the next chunk. Its result
 * ({@link BlockResult}) is merged with its neighbours' in file order by `./merge.ts`. The distinct-value
 * sketches are the exception: they belong to the thread, not the block, and merge in any order.
 */
import { COLUMNS, EVENT_TYPES, HEADER } from '../dataset/schema';
import * as sketch from './hyperloglog';
import { type BlockResult, type Sketches, type TimeRun, VIOLATION_KINDS, type ViolationKind } from './types';

/** Examples kept of each kind of violation. */
export const EXAMPLES_PER_KIND = 5;
/** The longest line accepted; a longer one is a violation and skipped, so that memory stays bounded. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Distinct rows remembered per event_time for duplicate detection: bounds memory on pathological files. */
const MAX_RUN_ROWS = 65_536;
/** Fields tracked per line; more are only counted. */
const MAX_FIELDS = 16;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const ZERO = 48;
/** A comma as a digit's value (its char code less `ZERO`): what ends a number field. */
const COMMA_DIGIT = COMMA - ZERO;
const DOT_DIGIT = DOT - ZERO;

// bound once: calls through the module's exports object go through a getter on every row
const hllAdd = sketch.hllAdd;
const mix32 = sketch.mix32;

const HEADER_BYTES = Buffer.from(HEADER, 'latin1');
const EVENT_TYPE_BYTES = EVENT_TYPES.map((type) => Buffer.from(type, 'latin1'));
/** 2^63 - 1 as its digits before the last 9, and its last 9. */
const INT64_MAX_HIGH = 9_223_372_036;
const INT64_MAX_LOW = 854_775_807;
/** The fast path's category_id: 19 digits, the first 10 of them before the exact split. */
const CATEGORY_DIGITS = 19;
const KIND_INDEX = new Map<ViolationKind, number>(VIOLATION_KINDS.map((kind, i) => [kind, i]));

const EVENT_TIME = 0;
const EVENT_TYPE = 1;
const PRODUCT_ID = 2;
const CATEGORY_ID = 3;
const PRICE = 6;
const USER_ID = 7;
const USER_SESSION = 8;

/** 4 bytes of text as the fast path reads them: a little-endian 32-bit integer, as `DataView.getInt32`. */
function word(text: string): number {
  return Buffer.from(text, 'latin1').readInt32LE(0);
}

/** event_time's bytes 16 to 19 (`:ss `) less the seconds' digits, and bytes 20 to 23 with the comma after. */
const SECONDS_MASK = 0xff0000ff | 0;
const SECONDS_FRAME = word(':00 ') & SECONDS_MASK;
const TIME_END = word('UTC,');
/** Each event type as words, for the types whose length is a multiple of 4 (all of them); null for others. */
const EVENT_TYPE_WORDS = EVENT_TYPES.map((type) =>
  type.length % 4 === 0 ? Array.from({ length: type.length / 4 }, (_, i) => word(type.slice(4 * i, 4 * i + 4))) : null,
);
/** The high bit of each byte of a word. */
const HIGH_BITS = 0x80808080 | 0;

/** Calls of the fast path in this thread so far, up to {@link WARMING_CALLS}; see `scan`. */
let warmingCalls = 0;
const WARMING_CALLS = 8192;
const WARMING_BYTES = 512;
/** Bytes of rows per call of the fast path at most, see `scan`. */
const SLICE_BYTES = 64 * 1024;

/** Options of a block's scan. */
export interface ScanOptions {
  /** The block starts the file: its first line is the header. */
  first: boolean;
  /** Stop at the first violation. */
  failFast: boolean;
  /** Whether rows of the published files' shape take the fast path; default true (false: tests compare). */
  fastPath?: boolean;
}

/**
 * The sortable key of an event_time (`YYYY-MM-DD hh:mm:ss UTC`): each field in its own bits, so keys order
 * as times do and stay exact well within 2^53.
 */
export function timeKey(year: number, month: number, day: number, hour: number, minute: number, second: number) {
  return (((year * 16 + month) * 32 + day) * 32 + hour) * 4096 + minute * 64 + second;
}

/** The event_time text of a key made by {@link timeKey}. */
export function timeText(key: number): string {
  const second = key % 64;
  const minute = Math.floor(key / 64) % 64;
  let rest = Math.floor(key / 4096);
  const hour = rest % 32;
  rest = Math.floor(rest / 32);
  const day = rest % 32;
  rest = Math.floor(rest / 32);
  const month = rest % 16;
  const year = Math.floor(rest / 16);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)} ${two(hour)}:${two(minute)}:${two(second)} UTC`;
}

/** A fresh pair of distinct-value sketches. */
export function newSketches(): Sketches {
  return { users: new Uint8Array(1 << 14), sessions: new Uint8Array(1 << 14) };
}

/** Scans one block of whole lines, fed in chunks; see the module comment. */
export class BlockScanner {
  private readonly result: BlockResult;
  private readonly sketches: Sketches;
  private readonly failFast: boolean;
  private readonly fastPath: boolean;
  private headerPending: boolean;
  /** A line cut by the end of the last chunk, copied. */
  private carry: Buffer | null = null;
  /** Skipping the rest of a line longer than {@link MAX_LINE_BYTES}. */
  private skipping = false;
  private lastByte = -1;

  // field bounds of the current line: in the chunk for the fast path, in `scratch` after unquoting
  private readonly starts = new Int32Array(MAX_FIELDS);
  private readonly ends = new Int32Array(MAX_FIELDS);
  private scratch = Buffer.alloc(4096);

  // time order and duplicates
  private previousTime = -1;
  private runTime = -1;
  private readonly run = new HashSet32(MAX_RUN_ROWS);
  // the smallest and largest category_id, each as its digits before the last 9 and its last 9 (-1: none yet)
  private categoryMinHigh = -1;
  private categoryMinLow = -1;
  private categoryMaxHigh = -1;
  private categoryMaxLow = -1;

  // the fast path's last event_time checked in full: its first 16 bytes (`YYYY-MM-DD hh:mm`) as 4 words, and its
  // key less the seconds, so that the rows of the same minute check only their seconds
  private minuteWord0 = 0;
  private minuteWord1 = 0;
  private minuteWord2 = 0;
  private minuteWord3 = 0;
  private minuteKey = -1;

  /**
   * @param index the block's position in file order
   * @param sketches the thread's distinct-value sketches, added to as rows go by
   */
  constructor(index: number, sketches: Sketches, options: ScanOptions) {
    warmUp();
    this.sketches = sketches;
    this.failFast = options.failFast;
    this.fastPath = options.fastPath ?? true;
    this.headerPending = options.first;
    this.result = {
      index,
      bytes: 0,
      lines: 0,
      rows: 0,
      crlf: 0,
      quotedRows: 0,
      invalidRows: 0,
      header: options.first ? 'none' : 'not-first',
      endsWithNewline: false,
      violations: VIOLATION_KINDS.map(() => 0),
      examples: [],
      stopped: false,
      eventTypes: EVENT_TYPES.map(() => 0),
      empty: COLUMNS.map(() => 0),
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
      headRun: null,
      tailRun: null,
      oneRun: false,
    };
    widen(this.result, ['firstTime', 'lastTime', 'minTime', 'maxTime', 'priceCents']);
    widen(this.result, ['headRun', 'tailRun', 'categoryMin', 'categoryMax']);
    widen(this as BlockScanner, ['previousTime', 'runTime', 'categoryMinHigh', 'categoryMaxHigh', 'minuteKey']);
  }

  /** Whether the scan stopped at a violation (fail-fast); further chunks are then ignored. */
  get stopped(): boolean {
    return this.result.stopped;
  }

  /** Scans the next bytes of the block. The chunk may be reused by the caller once this returns. */
  feed(chunk: Buffer): void {
    if (chunk.length === 0 || this.result.stopped) return;
    this.result.bytes += chunk.length;
    this.lastByte = chunk[chunk.length - 1] as number;
    let buffer = chunk;
    let from = 0;
    if (this.skipping) {
      const newline = chunk.indexOf(LF);
      if (newline < 0) return;
      this.skipping = false;
      this.result.lines += 1;
      from = newline + 1;
    }
    if (this.carry) {
      // only the line cut by the last chunk is joined, not the whole chunk; when a quoted field runs over that
      // line's end, the rest of the chunk is joined too
      const carry = this.carry;
      this.carry = null;
      const newline = chunk.indexOf(LF, from);
      if (newline < 0) {
        buffer = Buffer.concat([carry, chunk.subarray(from)]);
        from = 0;
      } else {
        const joined = Buffer.concat([carry, chunk.subarray(from, newline + 1)]);
        const consumed = this.scan(joined, 0, joined.length, false);
        if (consumed === joined.length) {
          from = newline + 1;
        } else {
          buffer = Buffer.concat([joined.subarray(consumed), chunk.subarray(newline + 1)]);
          from = 0;
        }
      }
    }
    const consumed = this.scan(buffer, from, buffer.length, false);
    if (consumed < buffer.length && !this.result.stopped) {
      if (buffer.length - consumed > MAX_LINE_BYTES) {
        this.violation('long_line', 'longer than 1 MiB', buffer, consumed, consumed + 200, this.result.lines + 1);
        this.result.rows += 1;
        this.result.invalidRows += 1;
        if (this.failFast) this.result.stopped = true;
        this.skipping = true;
      } else {
        this.carry = Buffer.from(buffer.subarray(consumed));
      }
    }
  }

  /** Ends the block (a last line without a line end is scanned) and returns what it holds. */
  finish(): BlockResult {
    const result = this.result;
    if (this.carry && !result.stopped) this.scan(this.carry, 0, this.carry.length, true);
    else if (this.skipping) result.lines += 1;
    this.carry = null;
    result.endsWithNewline = this.lastByte === LF;
    if (this.runTime >= 0) {
      result.tailRun = { time: this.runTime, hashes: this.run.values() };
      result.oneRun = result.headRun === null;
      result.headRun ??= result.tailRun;
    }
    const text = (high: number, low: number) =>
      high < 0 ? null : high === 0 ? String(low) : `${high}${String(low).padStart(9, '0')}`;
    result.categoryMin = text(this.categoryMinHigh, this.categoryMinLow);
    result.categoryMax = text(this.categoryMaxHigh, this.categoryMaxLow);
    return result;
  }

  /**
   * Scans the lines of `buffer[from, end)`; returns where the first line not scanned starts (one cut by
   * `end`, unless `final`).
   */
  private scan(buffer: Buffer, from: number, end: number, final: boolean): number {
    const starts = this.starts;
    const ends = this.ends;
    // the fast path takes lines that end at or before the last line feed, and before the next quote
    const lastNewline = buffer.lastIndexOf(LF, end - 1);
    let quote = from - 1;
    let position = from;
    while (position < end) {
      if (this.result.stopped) return end;
      if (position < lastNewline && !this.headerPending && this.fastPath) {
        if (quote < position) {
          quote = buffer.indexOf(QUOTE, position);
          if (quote < 0 || quote > end) quote = end;
        }
        // a thread's first calls take a few rows each, so that the optimising compiler finds the code after the
        // fast path's loop already run, rather than compiling it without feedback and throwing the compiled code
        // away when it runs (measured: a tenth of a second each time, a dozen times per thread). Every call takes
        // a slice of the rows, so that the next call runs the optimised code as soon as it is ready, rather than
        // the one under way going on slowly over its whole chunk, or waiting for a second compilation of the
        // loop alone (on-stack replacement; measured: a thread's first 2 MiB took 80 ms, 60 now, on average).
        // The first slices are the smallest (its first 4 MiB in 8192 calls): V8 compiles the loop alone when a
        // call runs long in slow code while the whole function is being compiled, not when calls come often
        // (measured: with slices of 4 KiB, that second compilation still took 0.1 s per thread, for nothing)
        const before = Math.min(quote, lastNewline + 1);
        for (;;) {
          const slice = warmingCalls < WARMING_CALLS ? WARMING_BYTES : SLICE_BYTES;
          warmingCalls += 1;
          const limit = Math.min(lastNewline, position + slice);
          position = this.fastRows(buffer, position, limit, before, end);
          if (position < limit || limit === lastNewline) break;
        }
        if (position >= end) return end;
      }
      // Step 1: split the line at commas
      let p = position;
      let field = 0;
      let quoted = false;
      starts[0] = p;
      while (p < end) {
        const c = buffer[p] as number;
        if (c === LF) break;
        if (c === COMMA) {
          if (field < MAX_FIELDS) ends[field] = p;
          field += 1;
          if (field < MAX_FIELDS) starts[field] = p + 1;
        } else if (c === QUOTE) {
          quoted = true;
          break;
        }
        p += 1;
      }

      // Step 2: a line with quotes is unquoted into the scratch buffer by the slow path
      if (quoted) {
        const lineEnd = this.unquote(buffer, position, end, final);
        if (lineEnd < 0) return position;
        this.result.quotedRows += 1;
        const contentEnd = lineEnd > position && buffer[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
        this.line(this.scratch, buffer, position, contentEnd, this.quotedFields);
        position = lineEnd + 1;
        continue;
      }
      if (p === end && !final) return position;

      // Step 3: the line end, LF or CR LF
      let contentEnd = p;
      if (contentEnd > position && buffer[contentEnd - 1] === CR) {
        contentEnd -= 1;
        this.result.crlf += 1;
      }
      if (field < MAX_FIELDS) ends[field] = contentEnd;
      this.line(buffer, buffer, position, contentEnd, field + 1);
      position = p + 1;
    }
    return end;
  }

  /**
   * The fast path (see the module comment): counts the rows from `from` on while they have the published files'
   * shape and end before `before`, and returns where the first line it does not take starts. It takes rows that
   * start before `limit`, which is at most the last line feed of the buffer: every line that starts before that
   * ends at a line feed, which stops each walk along a field. Reads of whole words are bounded by `end`.
   *
   * It is one long function on purpose. The optimising compiler inlines small functions only up to a budget per
   * function, which per-word helpers called row after row would spend many times over (measured: a third of the
   * pace lost), so the steps on words are written out here, as are the hashes and the sketches' updates
   * (`sessionHashEnd`, `userHash`, `hllAdd`, the end of `rowHash`: measured, a quarter of the pace gained), and
   * the counts are kept in locals and stored back once, when the run of rows ends. The row's hash is folded in
   * from the words as they are checked (measured: 5 % of the pace, against reading them all again after).
   */
  private fastRows(buffer: Buffer, from: number, limit: number, before: number, end: number): number {
    // made here rather than passed in, so that the compiler knows what it is: no check of its kind at every read
    // (measured: 4 % of the pace)
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
    const result = this.result;
    const eventTypes = result.eventTypes;
    const users = this.sketches.users;
    const sessions = this.sketches.sessions;
    let rows = 0;
    let crlfLines = 0;
    let emptyCodes = 0;
    let emptyBrands = 0;
    let emptySessions = 0;
    let firstTime = result.firstTime;
    let minTime = result.minTime;
    let maxTime = result.maxTime;
    let previousTime = this.previousTime;
    let outOfOrder = 0;
    let priceCents = 0;
    let priceMin = result.priceMin;
    let priceMax = result.priceMax;
    let priceNonPositive = 0;
    let categoryMinHigh = this.categoryMinHigh;
    let categoryMinLow = this.categoryMinLow;
    let categoryMaxHigh = this.categoryMaxHigh;
    let categoryMaxLow = this.categoryMaxLow;
    let minute0 = this.minuteWord0;
    let minute1 = this.minuteWord1;
    let minute2 = this.minuteWord2;
    let minute3 = this.minuteWord3;
    let minuteKey = this.minuteKey;

    let p = from;
    rows: while (p < limit) {
      if (p + 48 > end) break;

      // event_time: its first 16 bytes as those of the last time checked in full (then only the seconds are
      // checked), or checked in full now
      const w0 = view.getInt32(p, true);
      const w1 = view.getInt32(p + 4, true);
      const w2 = view.getInt32(p + 8, true);
      const w3 = view.getInt32(p + 12, true);
      const seconds = view.getInt32(p + 16, true);
      if ((seconds & SECONDS_MASK) !== SECONDS_FRAME || view.getInt32(p + 20, true) !== TIME_END) break;
      let time: number;
      if (w0 === minute0 && w1 === minute1 && w2 === minute2 && w3 === minute3) {
        const tens = ((seconds >>> 8) & 0xff) - ZERO;
        const units = ((seconds >>> 16) & 0xff) - ZERO;
        if (tens < 0 || tens > 5 || units < 0 || units > 9) break;
        time = minuteKey + tens * 10 + units;
      } else {
        time = parseTime(buffer, p, p + 23);
        if (time < 0) break;
        minute0 = w0;
        minute1 = w1;
        minute2 = w2;
        minute3 = w3;
        minuteKey = time - (time % 64);
      }

      // event_type: whole words, then a comma
      const first = view.getInt32(p + 24, true);
      let type = -1;
      let i = 0;
      for (let t = 0; t < EVENT_TYPE_WORDS.length; t += 1) {
        const words = EVENT_TYPE_WORDS[t];
        if (words == null || words[0] !== first) continue;
        let w = 1;
        while (w < words.length && view.getInt32(p + 24 + 4 * w, true) === words[w]) w += 1;
        if (w < words.length || buffer[p + 24 + 4 * w] !== COMMA) break rows;
        type = t;
        i = p + 25 + 4 * w;
        break;
      }
      if (type < 0) break;
      // the row's hash for duplicates, as `rowHash` makes it, field by field as they pass
      let row = Math.imul(type, HASH_MULTIPLIER);
      row ^= row >>> 15;

      // product_id: 1 to 15 digits, then a comma; the digits are checked 4 at a time (see `notDigit`), and the
      // first byte that is not one is the lowest flagged
      if (i + 16 > end) break;
      let start = i;
      let flags = 0;
      let field = 0;
      let word = 0;
      for (; i < start + 16; i += 4) {
        word = view.getInt32(i, true);
        flags = (word | ~((word + 0x50505050) ^ (word + 0x46464646))) & HIGH_BITS;
        if (flags !== 0) break;
        field = Math.imul(field ^ word, HASH_MULTIPLIER);
        field ^= field >>> 15;
      }
      if (flags === 0) break;
      let tail = (31 - Math.clz32(flags & -flags)) >> 3;
      i += tail;
      if (buffer[i] !== COMMA || i === start || i - start > 15) break;
      word &= (1 << (tail << 3)) - 1;
      field = Math.imul(field ^ word, HASH_MULTIPLIER);
      field ^= field >>> 15;
      row = Math.imul(row ^ field, HASH_MULTIPLIER);
      row ^= row >>> 15;
      row = Math.imul(row ^ (i - start), HASH_MULTIPLIER);
      row ^= row >>> 15;

      // category_id: 19 digits, read as 5 words: 4 of 4 digits, and the last 3 digits moved up a byte behind a 0,
      // in place of the comma. It is kept exact as its first 10 digits (`high`) and its last 9 (`low`). The
      // digits of a word are checked as in `notDigit`, and their value is taken two by two: the first digit of
      // each pair is in the lower byte, so 10 times the word plus the word moved down a byte holds each pair's
      // value in its lower byte, and likewise 100 times the pairs plus the pairs moved down 2 bytes.
      start = i + 1;
      if (start + CATEGORY_DIGITS + 1 > end || buffer[start + CATEGORY_DIGITS] !== COMMA) break;
      let high = 0;
      let low = 0;
      field = 0;
      for (let k = 0; k < 5; k += 1) {
        let word = view.getInt32(start + 4 * k, true);
        // its words for the row's hash: the last holds 3 digits
        const digitWord = k === 4 ? word & 0xffffff : word;
        field = Math.imul(field ^ digitWord, HASH_MULTIPLIER);
        field ^= field >>> 15;
        if (k === 4) word = (word << 8) | ZERO;
        if (((word | ~((word + 0x50505050) ^ (word + 0x46464646))) & HIGH_BITS) !== 0) break rows;
        const digits = word & 0x0f0f0f0f;
        const pairs = (Math.imul(digits, 10) + (digits >>> 8)) & 0x00ff00ff;
        const value = (Math.imul(pairs, 100) + (pairs >>> 16)) & 0xffff;
        if (k < 2) high = high * 10000 + value;
        else if (k === 2) {
          high = high * 100 + (pairs & 0xff);
          low = pairs >>> 16;
        } else low = low * (k === 3 ? 10000 : 1000) + value;
      }
      if (high > INT64_MAX_HIGH || (high === INT64_MAX_HIGH && low > INT64_MAX_LOW)) break;
      i = start + CATEGORY_DIGITS;
      row = Math.imul(row ^ field, HASH_MULTIPLIER);
      row ^= row >>> 15;
      row = Math.imul(row ^ CATEGORY_DIGITS, HASH_MULTIPLIER);
      row ^= row >>> 15;

      // category_code and brand: free text up to a comma each, with no line feed before it; the commas and line
      // feeds are looked for 4 bytes at a time (see `bytesEqual`), and the first is the lowest flagged
      let codeEmpty = false;
      let brandEmpty = false;
      for (let text = 0; text < 2; text += 1) {
        start = ++i;
        field = 0;
        for (;;) {
          if (i + 4 > end) break rows;
          const word = view.getInt32(i, true);
          const x = word ^ COMMAS;
          const commas = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & HIGH_BITS;
          const y = word ^ LINE_FEEDS;
          const lineFeeds = ~(((y & 0x7f7f7f7f) + 0x7f7f7f7f) | y) & HIGH_BITS;
          if ((commas | lineFeeds) === 0) {
            field = Math.imul(field ^ word, HASH_MULTIPLIER);
            field ^= field >>> 15;
            i += 4;
            continue;
          }
          const comma = commas & -commas;
          if (comma === 0 || (lineFeeds !== 0 && (lineFeeds & -lineFeeds) >>> 0 < comma >>> 0)) break rows;
          tail = (31 - Math.clz32(comma)) >> 3;
          i += tail;
          const last = word & ((1 << (tail << 3)) - 1);
          field = Math.imul(field ^ last, HASH_MULTIPLIER);
          field ^= field >>> 15;
          break;
        }
        row = Math.imul(row ^ field, HASH_MULTIPLIER);
        row ^= row >>> 15;
        row = Math.imul(row ^ (i - start), HASH_MULTIPLIER);
        row ^= row >>> 15;
        if (text === 0) codeEmpty = i === start;
        else brandEmpty = i === start;
      }

      // price: -?digits(.digits)?, then a comma
      let negative = false;
      const priceStart = i + 1;
      if (buffer[++i] === DASH) {
        negative = true;
        i += 1;
      }
      start = i;
      let price = 0;
      let d = (buffer[i] as number) - ZERO;
      while (d >= 0 && d <= 9) {
        price = price * 10 + d;
        d = (buffer[++i] as number) - ZERO;
      }
      if (i === start) break;
      if (d === DOT_DIGIT) {
        let fraction = 0;
        let scale = 1;
        d = (buffer[++i] as number) - ZERO;
        while (d >= 0 && d <= 9) {
          fraction = fraction * 10 + d;
          scale *= 10;
          d = (buffer[++i] as number) - ZERO;
        }
        if (scale === 1) break;
        price += fraction / scale;
      }
      if (d !== COMMA_DIGIT) break;
      if (negative) price = -price;
      // its words for the row's hash
      if (i + 4 > end) break;
      field = 0;
      let at = priceStart;
      for (; at + 4 <= i; at += 4) {
        word = view.getInt32(at, true);
        field = Math.imul(field ^ word, HASH_MULTIPLIER);
        field ^= field >>> 15;
      }
      word = view.getInt32(at, true) & ((1 << ((i - at) << 3)) - 1);
      field = Math.imul(field ^ word, HASH_MULTIPLIER);
      field ^= field >>> 15;
      row = Math.imul(row ^ field, HASH_MULTIPLIER);
      row ^= row >>> 15;
      row = Math.imul(row ^ (i - priceStart), HASH_MULTIPLIER);
      row ^= row >>> 15;

      // user_id: 1 to 15 digits, then a comma, checked as product_id
      start = ++i;
      if (i + 16 > end) break;
      flags = 0;
      field = 0;
      for (; i < start + 16; i += 4) {
        word = view.getInt32(i, true);
        flags = (word | ~((word + 0x50505050) ^ (word + 0x46464646))) & HIGH_BITS;
        if (flags !== 0) break;
        field = Math.imul(field ^ word, HASH_MULTIPLIER);
        field ^= field >>> 15;
      }
      if (flags === 0) break;
      tail = (31 - Math.clz32(flags & -flags)) >> 3;
      i += tail;
      if (buffer[i] !== COMMA || i === start || i - start > 15) break;
      word &= (1 << (tail << 3)) - 1;
      field = Math.imul(field ^ word, HASH_MULTIPLIER);
      field ^= field >>> 15;
      row = Math.imul(row ^ field, HASH_MULTIPLIER);
      row ^= row >>> 15;
      row = Math.imul(row ^ (i - start), HASH_MULTIPLIER);
      row ^= row >>> 15;
      // its value: 4 digits at a time (as category_id's), then the last few one by one
      let user = 0;
      let k = start;
      for (; k + 4 <= i; k += 4) {
        const digits = view.getInt32(k, true) & 0x0f0f0f0f;
        const pairs = (Math.imul(digits, 10) + (digits >>> 8)) & 0x00ff00ff;
        user = user * 10000 + ((Math.imul(pairs, 100) + (pairs >>> 16)) & 0xffff);
      }
      for (; k < i; k += 1) user = user * 10 + ((buffer[k] as number) - ZERO);

      // user_session: empty, or a lower-case UUID read as 9 words, then the line end. Its dashes (bytes 8, 13, 18
      // and 23) are checked, then turned into `0`s so that every word is checked as hex (see `notHex`). Its hash,
      // for the distinct-sessions sketch, is that of `sessionHash`.
      let session = -1;
      i += 1;
      if (buffer[i] !== LF && !(buffer[i] === CR && buffer[i + 1] === LF)) {
        if (i + 38 > end) break;
        const r0 = view.getInt32(i, true);
        const r1 = view.getInt32(i + 4, true);
        const r2 = view.getInt32(i + 8, true);
        const r3 = view.getInt32(i + 12, true);
        const r4 = view.getInt32(i + 16, true);
        const r5 = view.getInt32(i + 20, true);
        const r6 = view.getInt32(i + 24, true);
        const r7 = view.getInt32(i + 28, true);
        const r8 = view.getInt32(i + 32, true);
        // its dashes, then each word as hex (see `notHex`), a dash turned into a `0`; written out, word by word, as
        // a loop over the words was not unrolled (measured: 8 % of the pace)
        let wrong =
          ((r2 ^ DASHES) & 0xff) | ((r3 ^ DASHES) & 0xff00) | ((r4 ^ DASHES) & 0xff0000) | ((r5 ^ DASHES) & 0xff000000);
        let x = r0;
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r1;
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r2 ^ (DASH_TO_ZERO & 0xff);
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r3 ^ (DASH_TO_ZERO & 0xff00);
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r4 ^ (DASH_TO_ZERO & 0xff0000);
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r5 ^ (DASH_TO_ZERO & 0xff000000);
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r6;
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r7;
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        x = r8;
        wrong |= (x | ~(((x + 0x50505050) ^ (x + 0x46464646)) | ((x + 0x1f1f1f1f) ^ (x + 0x19191919)))) & HIGH_BITS;
        // its hash: the even words and the odd ones in two lanes
        let even = Math.imul(r0, HASH_MULTIPLIER);
        even ^= even >>> 15;
        let odd = Math.imul(r1, HASH_MULTIPLIER);
        odd ^= odd >>> 15;
        even = Math.imul(even ^ r2, HASH_MULTIPLIER);
        even ^= even >>> 15;
        odd = Math.imul(odd ^ r3, HASH_MULTIPLIER);
        odd ^= odd >>> 15;
        even = Math.imul(even ^ r4, HASH_MULTIPLIER);
        even ^= even >>> 15;
        odd = Math.imul(odd ^ r5, HASH_MULTIPLIER);
        odd ^= odd >>> 15;
        even = Math.imul(even ^ r6, HASH_MULTIPLIER);
        even ^= even >>> 15;
        odd = Math.imul(odd ^ r7, HASH_MULTIPLIER);
        odd ^= odd >>> 15;
        even = Math.imul(even ^ r8, HASH_MULTIPLIER);
        even ^= even >>> 15;
        if (wrong !== 0) break;
        // sessionHashEnd, written out
        let h = Math.imul(even ^ odd, HASH_MULTIPLIER);
        h ^= h >>> 15;
        h ^= h >>> 16;
        h = Math.imul(h, MIX_1);
        h ^= h >>> 13;
        h = Math.imul(h, MIX_2);
        h ^= h >>> 16;
        session = h >>> 0;
        i += 36;
      }
      let crlf = 0;
      if (buffer[i] === CR) {
        crlf = 1;
        i += 1;
      }
      if (buffer[i] !== LF || i >= before) break;

      // the whole line has passed: it is counted
      rows += 1;
      crlfLines += crlf;
      if (codeEmpty) emptyCodes += 1;
      if (brandEmpty) emptyBrands += 1;
      if (firstTime < 0) firstTime = time;
      if (minTime < 0 || time < minTime) minTime = time;
      if (time > maxTime) maxTime = time;
      if (time < previousTime) outOfOrder += 1;
      previousTime = time;
      (eventTypes[type] as number) += 1;
      if (categoryMinHigh < 0 || high < categoryMinHigh || (high === categoryMinHigh && low < categoryMinLow)) {
        categoryMinHigh = high;
        categoryMinLow = low;
      }
      if (high > categoryMaxHigh || (high === categoryMaxHigh && low > categoryMaxLow)) {
        categoryMaxHigh = high;
        categoryMaxLow = low;
      }
      priceCents += Math.round(price * 100);
      if (price < priceMin) priceMin = price;
      if (price > priceMax) priceMax = price;
      if (price <= 0) priceNonPositive += 1;
      // hllAdd(users, userHash(user)) and hllAdd(sessions, session), written out
      let h = user < 4294967296 ? user : (user ^ mix32(Math.floor(user / 4294967296))) >>> 0;
      h ^= h >>> 16;
      h = Math.imul(h, MIX_1);
      h ^= h >>> 13;
      h = Math.imul(h, MIX_2);
      h ^= h >>> 16;
      let register = h >>> HLL_SHIFT;
      let rank = Math.clz32((h << HLL_PRECISION) | HLL_GUARD) + 1;
      if (rank > (users[register] as number)) users[register] = rank;
      if (session >= 0) {
        register = session >>> HLL_SHIFT;
        rank = Math.clz32((session << HLL_PRECISION) | HLL_GUARD) + 1;
        if (rank > (sessions[register] as number)) sessions[register] = rank;
      } else emptySessions += 1;

      // and its hash ended as `rowHash` ends it: the event_time's key in two halves, the session, mixed
      row = Math.imul(row ^ (time >>> 0), HASH_MULTIPLIER);
      row ^= row >>> 15;
      row = Math.imul(row ^ Math.floor(time / 4294967296), HASH_MULTIPLIER);
      row ^= row >>> 15;
      row = Math.imul(row ^ session, HASH_MULTIPLIER);
      row ^= row >>> 15;
      h = row ^ (row >>> 16);
      h = Math.imul(h, MIX_1);
      h ^= h >>> 13;
      h = Math.imul(h, MIX_2);
      h ^= h >>> 16;
      this.duplicate(time, h >>> 0);
      p = i + 1;
    }

    // the run of fast rows has ended: its counts are stored back
    result.lines += rows;
    result.rows += rows;
    result.crlf += crlfLines;
    (result.empty[4] as number) += emptyCodes;
    (result.empty[5] as number) += emptyBrands;
    (result.empty[USER_SESSION] as number) += emptySessions;
    result.firstTime = firstTime;
    result.minTime = minTime;
    result.maxTime = maxTime;
    if (rows > 0) result.lastTime = previousTime;
    this.previousTime = previousTime;
    result.outOfOrder += outOfOrder;
    result.priceCount += rows;
    result.priceCents += priceCents;
    result.priceMin = priceMin;
    result.priceMax = priceMax;
    result.priceNonPositive += priceNonPositive;
    this.categoryMinHigh = categoryMinHigh;
    this.categoryMinLow = categoryMinLow;
    this.categoryMaxHigh = categoryMaxHigh;
    this.categoryMaxLow = categoryMaxLow;
    this.minuteWord0 = minute0;
    this.minuteWord1 = minute1;
    this.minuteWord2 = minute2;
    this.minuteWord3 = minute3;
    this.minuteKey = minuteKey;
    return p;
  }

  // what the slow path found about the line it unquoted
  private quotedFields = 0;
  private quotedLines = 0;
  private quoteProblem: string | null = null;

  /**
   * Parses a line with quotes per RFC 4180 into `scratch` (fields unquoted, bounds in `starts`/`ends`).
   * Returns the index of the line's terminating LF (or `end` for a last line without one), or -1 when the
   * line is cut by `end` and more bytes are to come.
   */
  private unquote(buffer: Buffer, position: number, end: number, final: boolean): number {
    if (this.scratch.length < end - position) {
      this.scratch = Buffer.alloc(Math.max(end - position, 2 * this.scratch.length));
    }
    const out = this.scratch;
    const starts = this.starts;
    const ends = this.ends;
    let written = 0;
    let field = 0;
    let extraLines = 0;
    let problem: string | null = null;
    let p = position;
    starts[0] = 0;
    let fieldStart = true;
    let inQuotes = false;
    let closed = false; // the current field's closing quote has been seen
    for (; p < end; p += 1) {
      const c = buffer[p] as number;
      if (inQuotes) {
        if (c === QUOTE) {
          if (p + 1 < end && buffer[p + 1] === QUOTE) {
            out[written++] = QUOTE;
            p += 1;
          } else if (p + 1 === end && !final) {
            return -1; // cannot tell a closing quote from the first of a pair yet
          } else {
            inQuotes = false;
            closed = true;
          }
        } else {
          if (c === LF) extraLines += 1;
          out[written++] = c;
        }
        continue;
      }
      if (c === LF) break;
      if (c === COMMA) {
        if (field < MAX_FIELDS) ends[field] = written;
        field += 1;
        if (field < MAX_FIELDS) starts[field] = written;
        fieldStart = true;
        closed = false;
        continue;
      }
      if (c === QUOTE && fieldStart) {
        inQuotes = true;
        fieldStart = false;
        continue;
      }
      if (c === CR && (p + 1 === end || buffer[p + 1] === LF)) {
        if (p + 1 === end && !final) return -1;
        continue; // the CR of a CR LF line end
      }
      if (c === QUOTE || closed) {
        problem ??= c === QUOTE ? 'a quote inside an unquoted field' : 'text after a closing quote';
      }
      fieldStart = false;
      out[written++] = c;
    }
    if (p === end && !final) return -1;
    if (inQuotes) problem = 'a quoted field not closed before the end';
    if (p > position && buffer[p - 1] === CR) this.result.crlf += 1;
    if (field < MAX_FIELDS) ends[field] = written;
    this.quotedFields = field + 1;
    this.quotedLines = extraLines;
    this.quoteProblem = problem;
    return p;
  }

  /**
   * One line: the header, or a data row. Field bounds are in `starts`/`ends` and index `data`; `raw` and
   * `[lineStart, lineEnd)` are the line as found, for examples.
   */
  private line(data: Buffer, raw: Buffer, lineStart: number, lineEnd: number, fields: number): void {
    const result = this.result;
    const lineNumber = result.lines + 1;
    // a quoted field may hold line ends: the row is numbered by the line where it starts
    result.lines += 1 + this.quotedLines;
    this.quotedLines = 0;
    const quoteProblem = this.quoteProblem;
    this.quoteProblem = null;
    if (this.headerPending) {
      this.headerPending = false;
      if (isHeader(raw, lineStart, lineEnd)) {
        result.header = 'ok';
      } else {
        result.header = 'wrong';
        this.violation('header', 'not the header', raw, lineStart, lineEnd, lineNumber);
      }
      return;
    }
    if (fields === 9 && raw[lineStart] === 101 && isHeader(raw, lineStart, lineEnd)) {
      this.violation('repeated_header', 'the header line', raw, lineStart, lineEnd, lineNumber);
      return;
    }
    result.rows += 1;
    const violationsBefore = this.violationCount;
    if (quoteProblem !== null) this.violation('quoting', quoteProblem, raw, lineStart, lineEnd, lineNumber);
    if (fields !== 9) {
      this.violation('field_count', `${fields} fields`, raw, lineStart, lineEnd, lineNumber);
    } else {
      this.row(data, raw, lineStart, lineEnd, lineNumber);
    }
    if (this.violationCount !== violationsBefore) {
      result.invalidRows += 1;
      if (this.failFast) result.stopped = true;
    }
  }

  private violationCount = 0;

  /** Validates and profiles a row of 9 fields. */
  private row(data: Buffer, raw: Buffer, lineStart: number, lineEnd: number, lineNumber: number): void {
    const result = this.result;
    const starts = this.starts;
    const ends = this.ends;
    for (let column = 0; column < 9; column += 1) {
      if (starts[column] === ends[column]) (result.empty[column] as number) += 1;
    }
    let valid = true;

    // event_time: the fixed layout, checked and turned into a sortable key in one pass
    const time = parseTime(data, starts[EVENT_TIME] as number, ends[EVENT_TIME] as number);
    if (time < 0) {
      this.fieldViolation('event_time', data, EVENT_TIME, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      this.countTime(time);
    }

    const type = eventType(data, starts[EVENT_TYPE] as number, ends[EVENT_TYPE] as number);
    if (type < 0) {
      this.fieldViolation('event_type', data, EVENT_TYPE, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      (result.eventTypes[type] as number) += 1;
    }

    const product = parseId(data, starts[PRODUCT_ID] as number, ends[PRODUCT_ID] as number);
    if (product < 0) {
      this.fieldViolation('product_id', data, PRODUCT_ID, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    }
    if (!this.category(data)) {
      this.fieldViolation('category_id', data, CATEGORY_ID, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    }
    // category_code and brand are free text: anything goes

    const price = parsePrice(data, starts[PRICE] as number, ends[PRICE] as number);
    if (Number.isNaN(price)) {
      this.fieldViolation('price', data, PRICE, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      this.countPrice(price);
    }

    const user = parseId(data, starts[USER_ID] as number, ends[USER_ID] as number);
    if (user < 0) {
      this.fieldViolation('user_id', data, USER_ID, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      hllAdd(this.sketches.users, userHash(user));
    }

    const sessionStart = starts[USER_SESSION] as number;
    const sessionEnd = ends[USER_SESSION] as number;
    let session = -1;
    if (sessionEnd > sessionStart) {
      session = sessionHash(data, sessionStart, sessionEnd);
      if (session < 0) {
        this.fieldViolation('user_session', data, USER_SESSION, raw, lineStart, lineEnd, lineNumber);
        valid = false;
      } else {
        hllAdd(this.sketches.sessions, session);
      }
    }
    if (valid) {
      this.duplicate(time, rowHash(time, type, data, starts, ends, session));
    }
  }

  /**
   * category_id: a whole number of at most 64 bits. Returns whether it is one; keeps the smallest and largest
   * as two exact parts (the last 9 digits and those before them, each exact as a number).
   */
  private category(data: Buffer): boolean {
    const start = this.starts[CATEGORY_ID] as number;
    const end = this.ends[CATEGORY_ID] as number;
    const length = end - start;
    if (length === 0 || length > 19) return false;
    const split = Math.max(start, end - 9);
    let high = 0;
    for (let i = start; i < split; i += 1) {
      const d = (data[i] as number) - ZERO;
      if (d < 0 || d > 9) return false;
      high = high * 10 + d;
    }
    let low = 0;
    for (let i = split; i < end; i += 1) {
      const d = (data[i] as number) - ZERO;
      if (d < 0 || d > 9) return false;
      low = low * 10 + d;
    }
    if (high > INT64_MAX_HIGH || (high === INT64_MAX_HIGH && low > INT64_MAX_LOW)) return false;
    this.countCategory(high, low);
    return true;
  }

  /** Counts a valid event_time's key: first, last, extremes, and whether it is earlier than the row before. */
  private countTime(time: number): void {
    const result = this.result;
    if (result.firstTime < 0) {
      result.firstTime = time;
      result.minTime = time;
      result.maxTime = time;
    }
    if (time < result.minTime) result.minTime = time;
    if (time > result.maxTime) result.maxTime = time;
    if (time < this.previousTime) result.outOfOrder += 1;
    this.previousTime = time;
    result.lastTime = time;
  }

  /** Counts a valid category_id, given as its digits before the last 9 and its last 9. */
  private countCategory(high: number, low: number): void {
    const minHigh = this.categoryMinHigh;
    if (minHigh < 0 || high < minHigh || (high === minHigh && low < this.categoryMinLow)) {
      this.categoryMinHigh = high;
      this.categoryMinLow = low;
    }
    const maxHigh = this.categoryMaxHigh;
    if (high > maxHigh || (high === maxHigh && low > this.categoryMaxLow)) {
      this.categoryMaxHigh = high;
      this.categoryMaxLow = low;
    }
  }

  /** Counts a valid price. */
  private countPrice(price: number): void {
    const result = this.result;
    result.priceCount += 1;
    result.priceCents += Math.round(price * 100);
    if (price < result.priceMin) result.priceMin = price;
    if (price > result.priceMax) result.priceMax = price;
    if (price <= 0) result.priceNonPositive += 1;
  }

  /**
   * Counts the row as a duplicate when an equal row (by hash) came earlier with the same event_time. The
   * files are in time order, so equal rows, which share their event_time, meet in the same run.
   */
  private duplicate(time: number, hash: number): void {
    const run = this.run;
    if (time !== this.runTime) {
      if (this.runTime >= 0 && this.result.headRun === null) {
        this.result.headRun = { time: this.runTime, hashes: run.values() };
      }
      run.clear();
      this.runTime = time;
    }
    if (!run.add(hash)) this.result.duplicates += 1;
  }

  private fieldViolation(
    kind: ViolationKind,
    data: Buffer,
    column: number,
    raw: Buffer,
    lineStart: number,
    lineEnd: number,
    lineNumber: number,
  ): void {
    const start = this.starts[column] as number;
    const end = Math.min(this.ends[column] as number, start + 60);
    const detail = `${COLUMNS[column]} ${JSON.stringify(data.toString('utf8', start, end))}`;
    this.violation(kind, detail, raw, lineStart, lineEnd, lineNumber);
  }

  private violation(
    kind: ViolationKind,
    detail: string,
    raw: Buffer,
    lineStart: number,
    lineEnd: number,
    lineNumber: number,
  ): void {
    const index = KIND_INDEX.get(kind) as number;
    const count = ((this.result.violations[index] as number) += 1);
    this.violationCount += 1;
    if (count <= EXAMPLES_PER_KIND) {
      const text = raw.toString('utf8', lineStart, Math.min(lineEnd, lineStart + 200));
      this.result.examples.push({ kind, example: { line: lineNumber, detail, text } });
    }
  }
}

/**
 * Makes fields hold, from the start, any of the kinds of value they will: number fields that will hold more than
 * the engine's small integers (event_time keys, sums in cents, the first 10 digits of category_id), and fields
 * that go from null to an object or a string. V8 keeps a field of small integers apart from one of doubles, and
 * one of null apart from one of objects: widening it later changes the object's shape, and throws away the
 * optimised code of the fast path that relied on it, to be compiled again (measured: several recompilations of
 * 0.1 s each per thread). Storing a fraction widens the field; the value is then put back.
 */
function widen<T extends object>(object: T, keys: readonly string[]): void {
  const fields = object as unknown as Record<string, unknown>;
  for (const key of keys) {
    const value = fields[key];
    fields[key] = 0.5;
    fields[key] = value;
  }
}

/** Whether this thread's scanner has been warmed up; see {@link warmUp}. */
let warmedUp = false;

/**
 * Runs a scanner once per thread, before the first block, over a few hundred made-up rows that take every path
 * of the fast path (each event type, prices at or below zero, empty fields, CR LF line ends, a long run of one
 * event_time, ids beyond 2^32) and some of the general path's. The optimising compiler then finds them all with
 * feedback, rather than compiling without some and throwing the compiled code away the first time the data takes
 * one (measured: each time a tenth of a second or more of compiling, and slow code meanwhile). The rows count
 * nowhere: the scanner and its sketches are dropped.
 */
function warmUp(): void {
  if (warmedUp) return;
  warmedUp = true;
  // A buffer handed to another thread is detached from this one, and the first detached in a thread throws away
  // the optimised code of every function that reads typed arrays, compiled on the premise that none ever is
  // (measured: the fast path compiled twice over per thread when chunks went back to the reading thread). One
  // is detached here first, so that the code is compiled once, without the premise.
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
  const rows = [HEADER];
  for (let i = 0; i < 240; i += 1) {
    // a second for every 3 rows, but 40 rows in one second from row 100
    const second = i < 100 ? Math.floor(i / 3) : i < 140 ? 34 : 34 + Math.floor((i - 139) / 3);
    const clock = `00:0${Math.floor(second / 60) % 10}:${String(second % 60).padStart(2, '0')}`;
    const time = `2019-10-0${1 + Math.floor(i / 200)} ${clock} UTC`;
    const type = EVENT_TYPES[i % EVENT_TYPES.length] as string;
    const price = ['35.79', '-1.5', '0.00', '120', '0.123456'][i % 5] as string;
    const code = i % 3 === 0 ? '' : 'electronics.smartphone';
    const brand = i % 7 === 0 ? '' : 'shiseido';
    const user = i % 11 === 0 ? 123456789012345 : 541312140 + i;
    const session = i % 13 === 0 ? '' : `${(0x72d76fde + i).toString(16)}-8bb3-4e00-8c23-a032dfed738c`;
    let row = `${time},${type},${44600062 + i},2103807459595387724,${code},${brand},${price},${user},${session}`;
    if (i % 17 === 0) row = rows[rows.length - 1] as string;
    if (i === 50) row = row.replace(',shiseido,', ',"shi,seido",');
    if (i === 60) row = row.replace(`,${price},`, ',free,');
    if (i === 70) row = row.replace(',2103807459595387724,', ',210380745959538772,');
    rows.push(i % 2 === 0 ? `${row}\r` : row);
  }
  const text = Buffer.from(`${rows.join('\n')}\n`, 'latin1');
  const scanner = new BlockScanner(0, newSketches(), { first: true, failFast: false });
  for (let i = 0; i < text.length; i += 4096) scanner.feed(text.subarray(i, i + 4096));
  scanner.finish();
}

/** Whether `buffer[start, end)` is the header line. */
function isHeader(buffer: Buffer, start: number, end: number): boolean {
  return end - start === HEADER_BYTES.length && buffer.compare(HEADER_BYTES, 0, HEADER_BYTES.length, start, end) === 0;
}

/** Checks a digit and returns its value, or -1. */
function digit(buffer: Buffer, i: number): number {
  const d = (buffer[i] as number) - ZERO;
  return d >= 0 && d <= 9 ? d : -1;
}

/** Two digits as a number, or -1. */
function two(buffer: Buffer, i: number): number {
  const a = digit(buffer, i);
  const b = digit(buffer, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** The key of a valid `YYYY-MM-DD hh:mm:ss UTC` (see {@link timeKey}), or -1. */
export function parseTime(buffer: Buffer, start: number, end: number): number {
  if (end - start !== 23) return -1;
  const b = start;
  if (
    buffer[b + 4] !== DASH ||
    buffer[b + 7] !== DASH ||
    buffer[b + 10] !== 32 ||
    buffer[b + 13] !== 58 ||
    buffer[b + 16] !== 58 ||
    buffer[b + 19] !== 32 ||
    buffer[b + 20] !== 85 ||
    buffer[b + 21] !== 84 ||
    buffer[b + 22] !== 67
  ) {
    return -1;
  }
  const century = two(buffer, b);
  const yy = two(buffer, b + 2);
  const month = two(buffer, b + 5);
  const day = two(buffer, b + 8);
  const hour = two(buffer, b + 11);
  const minute = two(buffer, b + 14);
  const second = two(buffer, b + 17);
  if (century < 0 || yy < 0 || month < 1 || month > 12 || day < 1 || day > 31) return -1;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return -1;
  return timeKey(century * 100 + yy, month, day, hour, minute, second);
}

/** The index of the event type in `EVENT_TYPES`, or -1. */
function eventType(buffer: Buffer, start: number, end: number): number {
  const length = end - start;
  for (let t = 0; t < EVENT_TYPE_BYTES.length; t += 1) {
    const bytes = EVENT_TYPE_BYTES[t] as Buffer;
    if (bytes.length !== length || bytes[0] !== buffer[start]) continue;
    let i = 1;
    while (i < length && bytes[i] === buffer[start + i]) i += 1;
    if (i === length) return t;
  }
  return -1;
}

/** A whole number of 1 to 15 digits (product_id, user_id; exact as a number): its value, or -1. */
function parseId(buffer: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length === 0 || length > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i += 1) {
    const d = (buffer[i] as number) - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** A decimal (`-?digits(.digits)?`), or NaN. */
function parsePrice(buffer: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buffer[i] === DASH) {
    negative = true;
    i += 1;
  }
  let whole = 0;
  let digits = 0;
  for (; i < end; i += 1) {
    const d = (buffer[i] as number) - ZERO;
    if (d < 0 || d > 9) break;
    whole = whole * 10 + d;
    digits += 1;
  }
  if (digits === 0) return NaN;
  let value = whole;
  if (i < end) {
    if (buffer[i] !== DOT || i + 1 === end) return NaN;
    let fraction = 0;
    let scale = 1;
    for (i += 1; i < end; i += 1) {
      const d = (buffer[i] as number) - ZERO;
      if (d < 0 || d > 9) return NaN;
      fraction = fraction * 10 + d;
      scale *= 10;
    }
    value += fraction / scale;
  }
  return negative ? -value : value;
}

/** Hex digit values by char code (lower case only), 255 for the others. */
const HEX = new Uint8Array(256).fill(255);
for (let c = 0; c < 16; c += 1) HEX['0123456789abcdef'.charCodeAt(c)] = c;

/** Multiplier of {@link hashStep}: odd, so that each step maps its words one to one. */
const HASH_MULTIPLIER = 0x9e3779b1 | 0;

/** Folds a 4-byte word into a hash: a multiply, and the high bits folded down so that they count as the low do. */
function hashStep(hash: number, word: number): number {
  const h = Math.imul(hash ^ word, HASH_MULTIPLIER);
  return h ^ (h >>> 15);
}

/** The multipliers of `mix32`, for the fast path's copies of it. */
const MIX_1 = 0x85ebca6b | 0;
const MIX_2 = 0xc2b2ae35 | 0;
/** `hllAdd`'s constants, for the fast path's copies of it. */
const HLL_PRECISION = sketch.HLL_PRECISION;
const HLL_SHIFT = 32 - HLL_PRECISION;
const HLL_GUARD = 1 << (HLL_PRECISION - 1);

/**
 * The hash of a valid row by which duplicates are found: rows equal byte for byte have equal hashes. Its
 * event_time, event_type and user_session come as their key, index and hash (each the same for the same bytes),
 * and the fields between them, product_id to user_id, as their bytes (`buffer[starts[column], ends[column])`):
 * each field's little-endian words, the last padded with zeros (and empty when the length is a multiple of 4),
 * folded into a hash of its own, which is folded in with the field's length. The fast path folds in each word
 * as it checks it.
 */
export function rowHash(
  time: number,
  type: number,
  buffer: Buffer,
  starts: Int32Array,
  ends: Int32Array,
  session: number,
): number {
  let hash = hashStep(0, type);
  for (let column = PRODUCT_ID; column <= USER_ID; column += 1) {
    const start = starts[column] as number;
    const end = ends[column] as number;
    let field = 0;
    let at = start;
    for (; at + 4 <= end; at += 4) field = hashStep(field, tailWord(buffer, at, end));
    field = hashStep(field, tailWord(buffer, at, end));
    hash = hashStep(hashStep(hash, field), end - start);
  }
  // the event_time's key is above 2^32: its two halves
  hash = hashStep(hashStep(hash, time >>> 0), Math.floor(time / 4294967296));
  return mix32(hashStep(hash, session) >>> 0);
}

/** The bytes from `at`, up to 4 of them and none at or past `end`, as a little-endian word padded with zeros. */
function tailWord(buffer: Buffer, at: number, end: number): number {
  let word = 0;
  for (let j = 0; j < 4 && at + j < end; j += 1) word |= (buffer[at + j] as number) << (8 * j);
  return word;
}

/** The hash of a user_id for the distinct-users sketch. */
function userHash(user: number): number {
  // the high part's hash is 0 when there is no high part
  return user < 4294967296 ? mix32(user) : mix32((user ^ mix32(Math.floor(user / 4294967296))) >>> 0);
}

/*
 * The checks on 4 bytes at a time that the fast path writes out where it uses them (its comments point here).
 * Each flags the bytes of `word` (a little-endian word) that fail by setting their high bits, so that 0 means
 * that none fails and the lowest bit set is the first that does: all the fast path asks of them. The tests hold
 * them to that.
 */

/**
 * The bytes that are not lower-case hex digits. When no byte has its high bit set, adding a constant to every
 * byte carries into no other byte, so each byte's high bit after an addition tells on which side of a bound the
 * byte lies: adding `0x50` reaches `0x80` from `0`, `0x46` from `:`, `0x1f` from `a`, `0x19` from `g`. A byte
 * with its high bit set fails and is flagged as it is; the bytes after it may then be flagged wrongly, by its
 * carry, which the first failure does not mind.
 */
export function notHex(word: number): number {
  const digit = (word + 0x50505050) ^ (word + 0x46464646);
  const letter = (word + 0x1f1f1f1f) ^ (word + 0x19191919);
  return (word | ~(digit | letter)) & HIGH_BITS;
}

/** The bytes that are not decimal digits (see {@link notHex}). */
export function notDigit(word: number): number {
  return (word | ~((word + 0x50505050) ^ (word + 0x46464646))) & HIGH_BITS;
}

/**
 * The bytes equal to the byte repeated in `bytes`, exactly (flagged here are the ones found). A byte of
 * `word ^ bytes` is zero when neither its low 7 bits (carried into its high bit by adding 0x7f, which carries no
 * further) nor its high bit is set.
 */
export function bytesEqual(word: number, bytes: number): number {
  const x = word ^ bytes;
  return ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & HIGH_BITS;
}

const COMMAS = COMMA * 0x01010101;
const LINE_FEEDS = LF * 0x01010101;

/** A dash in every byte; a UUID's dashes are its bytes 8, 13, 18 and 23, one in each of its words 2 to 5. */
const DASHES = DASH * 0x01010101;
/** What turns a dash into a `0`. */
const DASH_TO_ZERO = (DASH ^ ZERO) * 0x01010101;

/** The end of a user_session's hash: its two lanes, well mixed. */
function sessionHashEnd(even: number, odd: number): number {
  return mix32(hashStep(even, odd) >>> 0);
}

/**
 * A well-mixed hash of a lower-case UUID (8-4-4-4-12 hex digits), or -1: its 9 little-endian words folded in two
 * lanes, even and odd, as the fast path does.
 */
function sessionHash(buffer: Buffer, start: number, end: number): number {
  if (end - start !== 36) return -1;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < 36; i += 1) {
    const byte = buffer[start + i] as number;
    if (i === 8 || i === 13 || i === 18 || i === 23 ? byte !== DASH : HEX[byte] === 255) return -1;
  }
  for (let w = 0; w < 9; w += 1) {
    const word = tailWord(buffer, start + 4 * w, end);
    if (w % 2 === 0) even = hashStep(even, word);
    else odd = hashStep(odd, word);
  }
  return sessionHashEnd(even, odd);
}

/**
 * A set of 32-bit hashes that clears in constant time (entries are stamped with a generation), for the rows
 * of one event_time. Open addressing, grown by doubling up to a cap, past which new hashes are not kept.
 */
export class HashSet32 {
  private keys = new Int32Array(64);
  private stamps = new Uint32Array(64);
  private generation = 1;
  private count = 0;
  private readonly cap: number;

  constructor(cap: number) {
    this.cap = cap;
  }

  /** Adds a hash; returns false when it was already there. */
  add(hash: number): boolean {
    const mask = this.keys.length - 1;
    const key = hash | 0;
    for (let slot = key & mask; ; slot = (slot + 1) & mask) {
      if (this.stamps[slot] !== this.generation) {
        if (this.count >= this.cap) return true;
        this.keys[slot] = key;
        this.stamps[slot] = this.generation;
        this.count += 1;
        if (this.count * 2 > this.keys.length) this.grow();
        return true;
      }
      if (this.keys[slot] === key) return false;
    }
  }

  /** Empties the set. */
  clear(): void {
    this.generation += 1;
    this.count = 0;
  }

  /** The hashes held, as unsigned numbers. */
  values(): number[] {
    const out: number[] = [];
    for (let slot = 0; slot < this.keys.length; slot += 1) {
      if (this.stamps[slot] === this.generation) out.push((this.keys[slot] as number) >>> 0);
    }
    return out;
  }

  private grow(): void {
    const held = this.values();
    this.keys = new Int32Array(this.keys.length * 2);
    this.stamps = new Uint32Array(this.keys.length);
    this.generation = 1;
    this.count = 0;
    for (const hash of held) this.add(hash);
  }
}

/** The time runs of a block, for tests and the merge: re-exported type. */
export type { TimeRun };
