/**
 * The row scanner: validates the lines of a CSV against the dataset's schema and profiles them, working on
 * the bytes in place. A line is split at commas by one loop over its bytes, and each field is checked by its
 * column's rule on the char codes, so no string is made for a valid row; strings are made only for examples
 * of violations and, at the end, for the first and last event_time.
 *
 * Lines are parsed per RFC 4180: a line with a double quote takes the slower path, which unquotes its fields
 * (a quoted comma is data, `""` is a quote) and lets a quoted field run over line ends. The published files
 * have no quotes at all, so the fast path is the one that counts.
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
const FNV_PRIME = 0x01000193;

// bound once: calls through the module's exports object go through a getter on every row
const hllAdd = sketch.hllAdd;
const mix32 = sketch.mix32;

const HEADER_BYTES = Buffer.from(HEADER, 'latin1');
const EVENT_TYPE_BYTES = EVENT_TYPES.map((type) => Buffer.from(type, 'latin1'));
/** 2^63 - 1 as its digits before the last 9, and its last 9. */
const INT64_MAX_HIGH = 9_223_372_036;
const INT64_MAX_LOW = 854_775_807;
const KIND_INDEX = new Map<ViolationKind, number>(VIOLATION_KINDS.map((kind, i) => [kind, i]));

const EVENT_TIME = 0;
const EVENT_TYPE = 1;
const PRODUCT_ID = 2;
const CATEGORY_ID = 3;
const PRICE = 6;
const USER_ID = 7;
const USER_SESSION = 8;

/** Options of a block's scan. */
export interface ScanOptions {
  /** The block starts the file: its first line is the header. */
  first: boolean;
  /** Stop at the first violation. */
  failFast: boolean;
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
  private categoryMin: [number, number] | null = null;
  private categoryMax: [number, number] | null = null;

  /**
   * @param index the block's position in file order
   * @param sketches the thread's distinct-value sketches, added to as rows go by
   */
  constructor(index: number, sketches: Sketches, options: ScanOptions) {
    this.sketches = sketches;
    this.failFast = options.failFast;
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
    const text = (value: [number, number] | null) =>
      value === null ? null : value[0] === 0 ? String(value[1]) : `${value[0]}${String(value[1]).padStart(9, '0')}`;
    result.categoryMin = text(this.categoryMin);
    result.categoryMax = text(this.categoryMax);
    return result;
  }

  /**
   * Scans the lines of `buffer[from, end)`; returns where the first line not scanned starts (one cut by
   * `end`, unless `final`).
   */
  private scan(buffer: Buffer, from: number, end: number, final: boolean): number {
    const starts = this.starts;
    const ends = this.ends;
    let position = from;
    while (position < end) {
      if (this.result.stopped) return end;
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
    // the row's hash, for duplicates, is made of the fields' values as they are parsed
    let hash = 0;
    let valid = true;

    // event_time: the fixed layout, checked and turned into a sortable key in one pass
    const time = parseTime(data, starts[EVENT_TIME] as number, ends[EVENT_TIME] as number);
    if (time < 0) {
      this.fieldViolation('event_time', data, EVENT_TIME, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
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

    const type = eventType(data, starts[EVENT_TYPE] as number, ends[EVENT_TYPE] as number);
    if (type < 0) {
      this.fieldViolation('event_type', data, EVENT_TYPE, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      (result.eventTypes[type] as number) += 1;
      hash = type;
    }

    const product = parseId(data, starts[PRODUCT_ID] as number, ends[PRODUCT_ID] as number);
    if (product < 0) {
      this.fieldViolation('product_id', data, PRODUCT_ID, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      hash = mix32((hash ^ product) >>> 0);
    }
    const category = this.category(data);
    if (category < 0) {
      this.fieldViolation('category_id', data, CATEGORY_ID, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      hash = mix32((hash ^ category) >>> 0);
    }
    // category_code and brand are free text: hashed byte by byte, the only fields that are
    for (let i = starts[4] as number, e = ends[5] as number; i < e; i += 1) {
      hash = Math.imul(hash ^ (data[i] as number), FNV_PRIME);
    }

    const price = parsePrice(data, starts[PRICE] as number, ends[PRICE] as number);
    if (Number.isNaN(price)) {
      this.fieldViolation('price', data, PRICE, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      result.priceCount += 1;
      result.priceCents += Math.round(price * 100);
      if (price < result.priceMin) result.priceMin = price;
      if (price > result.priceMax) result.priceMax = price;
      if (price <= 0) result.priceNonPositive += 1;
      hash = mix32((hash ^ (price * 100)) >>> 0);
    }

    const user = parseId(data, starts[USER_ID] as number, ends[USER_ID] as number);
    if (user < 0) {
      this.fieldViolation('user_id', data, USER_ID, raw, lineStart, lineEnd, lineNumber);
      valid = false;
    } else {
      const userHash = mix32((user ^ mix32(Math.floor(user / 4294967296))) >>> 0);
      hllAdd(this.sketches.users, userHash);
      hash = mix32((hash ^ userHash) >>> 0);
    }

    const sessionStart = starts[USER_SESSION] as number;
    const sessionEnd = ends[USER_SESSION] as number;
    if (sessionEnd > sessionStart) {
      const session = sessionHash(data, sessionStart, sessionEnd);
      if (session < 0) {
        this.fieldViolation('user_session', data, USER_SESSION, raw, lineStart, lineEnd, lineNumber);
        valid = false;
      } else {
        hllAdd(this.sketches.sessions, session);
        hash = mix32((hash ^ session) >>> 0);
      }
    }
    if (valid) this.duplicate(time, hash);
  }

  /**
   * category_id: a whole number of at most 64 bits. Returns a hash of it, or -1; keeps the smallest and
   * largest as two exact parts (the last 9 digits and those before them, each exact as a number).
   */
  private category(data: Buffer): number {
    const start = this.starts[CATEGORY_ID] as number;
    const end = this.ends[CATEGORY_ID] as number;
    const length = end - start;
    if (length === 0 || length > 19) return -1;
    const split = Math.max(start, end - 9);
    let high = 0;
    for (let i = start; i < split; i += 1) {
      const d = (data[i] as number) - ZERO;
      if (d < 0 || d > 9) return -1;
      high = high * 10 + d;
    }
    let low = 0;
    for (let i = split; i < end; i += 1) {
      const d = (data[i] as number) - ZERO;
      if (d < 0 || d > 9) return -1;
      low = low * 10 + d;
    }
    if (high > INT64_MAX_HIGH || (high === INT64_MAX_HIGH && low > INT64_MAX_LOW)) return -1;
    const min = this.categoryMin;
    if (min === null || high < min[0] || (high === min[0] && low < min[1])) this.categoryMin = [high, low];
    const max = this.categoryMax;
    if (max === null || high > max[0] || (high === max[0] && low > max[1])) this.categoryMax = [high, low];
    return mix32((high ^ mix32(low)) >>> 0);
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

/**
 * A well-mixed hash of a lower-case UUID (8-4-4-4-12 hex digits), or -1. The hex digits are read as four
 * 32-bit words as they are checked, so the hash costs a multiply per word rather than per byte.
 */
function sessionHash(buffer: Buffer, start: number, end: number): number {
  if (
    end - start !== 36 ||
    buffer[start + 8] !== DASH ||
    buffer[start + 13] !== DASH ||
    buffer[start + 18] !== DASH ||
    buffer[start + 23] !== DASH
  ) {
    return -1;
  }
  let hash = 0;
  let word = 0;
  let nibbles = 0;
  for (let i = start; i < end; i += 1) {
    const value = HEX[buffer[i] as number] as number;
    if (value === 255) {
      if (buffer[i] === DASH && (i - start === 8 || i - start === 13 || i - start === 18 || i - start === 23)) continue;
      return -1;
    }
    word = (word << 4) | value;
    nibbles += 1;
    if (nibbles === 8) {
      hash = mix32((hash ^ word) >>> 0);
      hash = Math.imul(hash, FNV_PRIME);
      nibbles = 0;
      word = 0;
    }
  }
  return mix32(hash >>> 0);
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
