/**
 * The shapes the verifier passes around: the kinds of violation a row can have, the partial result of one
 * block of lines (what a thread sends back, mergeable in file order), the messages between the main thread
 * and its worker threads, and the {@link VerifyReport} a user reads.
 */

/** The kinds of violation, in the order reports list them. */
export const VIOLATION_KINDS = [
  'header',
  'repeated_header',
  'field_count',
  'quoting',
  'long_line',
  'event_time',
  'event_type',
  'product_id',
  'category_id',
  'price',
  'user_id',
  'user_session',
] as const;

/** One kind of violation. */
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

/** What each kind of violation means, for people. */
export const VIOLATION_MEANINGS: Readonly<Record<ViolationKind, string>> = {
  header: 'the first line is not the header',
  repeated_header: 'the header line again, after the first line',
  field_count: 'a row without exactly 9 fields',
  quoting: 'a quoted field that breaks RFC 4180 (a stray or unclosed quote)',
  long_line: 'a line longer than 1 MiB (skipped)',
  event_time: 'event_time is not YYYY-MM-DD hh:mm:ss UTC',
  event_type: 'event_type is not view, cart, remove_from_cart or purchase',
  product_id: 'product_id is not a whole number',
  category_id: 'category_id is not a whole number of at most 64 bits',
  price: 'price is not a decimal number',
  user_id: 'user_id is not a whole number',
  user_session: 'user_session is neither a lower-case UUID nor empty',
};

/** A violation as an example: where, what, and the line as found (cut at 200 characters). */
export interface ViolationExample {
  /** 1-based line number in the (decompressed) CSV. */
  line: number;
  /** What is wrong, such as `price "12,5"`. */
  detail: string;
  /** The line, cut at 200 characters. */
  text: string;
}

/** The rows of one event_time: the duplicates at a block's edges are matched with its neighbours'. */
export interface TimeRun {
  /** The event_time, as a sortable key (see `./fields.ts`). */
  time: number;
  /** Distinct row hashes in the run. */
  hashes: number[];
}

/**
 * What one block of whole lines holds, counted by one thread. Blocks are merged in file order (see
 * `./merge.ts`), so everything that spans blocks (line numbers, time order, duplicates, the first and last
 * event_time) is kept as edges to be joined.
 */
export interface BlockResult {
  /** The block's position in the file's order. */
  index: number;
  /** Bytes of CSV scanned. */
  bytes: number;
  /** Physical lines, including the header and lines inside quoted fields. */
  lines: number;
  /** Data rows (the header and repeated headers excluded). */
  rows: number;
  /** Lines ended by CR LF. */
  crlf: number;
  /** Rows with at least one quoted field. */
  quotedRows: number;
  /** Rows with at least one violation. */
  invalidRows: number;
  /** For the first block: whether line 1 is the header ('none' for an empty input). */
  header: 'ok' | 'wrong' | 'none' | 'not-first';
  /** Whether the last byte scanned is a line feed. */
  endsWithNewline: boolean;
  /** Violations by kind, in {@link VIOLATION_KINDS} order. */
  violations: number[];
  /** The first examples of each kind, with line numbers counted from the block's first line. */
  examples: { kind: ViolationKind; example: ViolationExample }[];
  /** Whether the scan stopped at a violation (fail-fast). */
  stopped: boolean;
  /** Rows by event type, in `EVENT_TYPES` order. */
  eventTypes: number[];
  /** Empty values by column, in `COLUMNS` order (rows of 9 fields only). */
  empty: number[];
  /** Keys of the first, last, smallest and largest valid event_time; -1 when none. */
  firstTime: number;
  lastTime: number;
  minTime: number;
  maxTime: number;
  /** Rows whose event_time is earlier than the previous row's. */
  outOfOrder: number;
  /** Valid prices: how many, their sum in cents (exact, so that any split sums the same), extremes, how many <= 0. */
  priceCount: number;
  priceCents: number;
  priceMin: number;
  priceMax: number;
  priceNonPositive: number;
  /** Smallest and largest category_id as decimal text (exact beyond 2^53); null when none. */
  categoryMin: string | null;
  categoryMax: string | null;
  /** Rows equal to an earlier row of the same event_time within the block. */
  duplicates: number;
  /** The block's first and last runs of one event_time (the same run when the block has one). */
  headRun: TimeRun | null;
  tailRun: TimeRun | null;
  /** Whether the head run and the tail run are the same run (all valid times of the block are equal and adjacent). */
  oneRun: boolean;
}

/** How a CSV is packed. */
export type Packaging = 'none' | 'gzip' | 'zip';

/** Where the bytes come from, as a worker thread opens them. */
export type ByteSource =
  | { kind: 'file'; path: string }
  | { kind: 'gs'; bucket: string; object: string; apiEndpoint?: string; projectId?: string };

/**
 * A task for a worker: a byte range it reads itself, or a chunk of the CSV that the main thread read, cut
 * anywhere (the worker finds its line ends; see `./tasks.ts`).
 */
export type VerifyTask =
  | {
      type: 'range';
      index: number;
      source: ByteSource;
      /** First byte of the range, and the byte after its last. */
      start: number;
      end: number;
      /** Bytes of the whole input. */
      size: number;
      failFast: boolean;
    }
  | {
      type: 'chunk';
      index: number;
      buffer: ArrayBuffer;
      length: number;
      /** Whether the worker computes the chunk's CRC32C (when the chunk is the input's own bytes, not inflated). */
      crc32c: boolean;
      failFast: boolean;
    };

/** A range task's result: the block's counts and the CRC32C of the exact raw bytes of the range. */
export interface RangeResult {
  block: BlockResult;
  crc32c: number;
}

/**
 * A chunk task's result: the counts of the chunk's whole lines, and the bytes around them, which the main
 * thread joins with the neighbouring chunks' into the lines that span two chunks. The bytes are views of the
 * chunk's own buffer, handed back whole so that the main thread fills it again.
 */
export interface ChunkResult {
  block: BlockResult;
  /** The CRC32C of the whole chunk, when asked; 0 otherwise. */
  crc32c: number;
  /** The bytes up to the chunk's first line end, included (all of them when it has none); empty for chunk 0. */
  head: Uint8Array;
  /** The bytes after the chunk's last line end. */
  tail: Uint8Array;
  /** Whether the chunk holds a line end. */
  newline: boolean;
}

/** The result of any task. */
export type TaskResult = RangeResult | ChunkResult;

/** The distinct-value sketches of one thread. */
export interface Sketches {
  users: Uint8Array;
  sessions: Uint8Array;
}

/** Messages to a worker thread. */
export type ToWorker = { type: 'task'; id: number; task: VerifyTask } | { type: 'finish' };

/** Messages from a worker thread. */
export type FromWorker =
  | { type: 'done'; id: number; result: TaskResult }
  | { type: 'failed'; id: number; message: string }
  | { type: 'sketches'; sketches: Sketches };

/** One checksum compared with an expected value. */
export interface ChecksumCheck {
  algorithm: 'crc32c' | 'md5';
  /** Where the expected value comes from: the object's metadata, or a flag. */
  from: 'object metadata' | '--expect-crc32c' | '--expect-md5';
  expected: string;
  actual: string;
  match: boolean;
}

/** A share: a count and its fraction of the rows. */
export interface Share {
  rows: number;
  share: number;
}

/** An estimate with its relative standard error. */
export interface Estimate {
  estimate: number;
  relativeError: number;
}

/**
 * The verifier's report. JSON-serialisable as is: numbers stay below 2^53, and values that may not
 * (category_id) are decimal strings.
 */
export interface VerifyReport {
  /** The input: a path or a gs:// URL. */
  source: string;
  /**
   * How the CSV is packed: as is, in a gzip, or as the one entry of a zip (as Kaggle serves it). When packed,
   * checksums are of the bytes as stored, and validation is of the CSV inside.
   */
  packaging: Packaging;
  /** Whether the input is gzip: `packaging === 'gzip'`, kept for the callers that read it. */
  gzip: boolean;
  /** Bytes of the input as stored. */
  bytes: number;
  /** Bytes of CSV validated (differs from `bytes` when packed, or when stopped early). */
  csvBytes: number;
  /** How the work was split: ranges read by threads, or chunks handed out by the main thread. */
  mode: 'ranges' | 'blocks';
  threads: number;
  /** Ranges or chunks. */
  parts: number;
  /** Checksums in Cloud Storage's base64 forms; null when not computed (MD5 not asked, or stopped early). */
  crc32c: string | null;
  md5: string | null;
  checks: ChecksumCheck[];
  /** Whether the scan stopped at the first violation (--fail-fast): the counts then cover only what was read. */
  stoppedEarly: boolean;
  lines: number;
  rows: number;
  invalidRows: number;
  format: {
    header: 'ok' | 'wrong' | 'none';
    crlfLines: number;
    finalNewline: boolean;
    quotedRows: number;
  };
  violations: { kind: ViolationKind; meaning: string; count: number; examples: ViolationExample[] }[];
  profile: {
    firstEventTime: string | null;
    lastEventTime: string | null;
    minEventTime: string | null;
    maxEventTime: string | null;
    outOfOrderRows: number;
    eventTypes: Record<string, Share>;
    emptyValues: Record<string, Share>;
    price: { min: number | null; max: number | null; mean: number | null; nonPositiveRows: number };
    categoryId: { min: string | null; max: string | null };
    distinctUsers: Estimate;
    distinctSessions: Estimate;
    /** Rows equal byte for byte to an earlier row with the same event_time (see docs: exact in a time-ordered file). */
    duplicateRows: number;
  };
  elapsedMs: number;
  /** Everything that makes the input fail verification, one sentence each. */
  problems: string[];
  ok: boolean;
}
