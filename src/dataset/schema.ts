/**
 * The schema of the "eCommerce behavior data from multi-category store" dataset: one CSV per month, a
 * header line and one event per row, in time order. The generator of the local sample writes it and the
 * verifier checks collected files against it, so both read the same definition from here.
 */

/** The columns, in file order. */
export const COLUMNS = [
  'event_time',
  'event_type',
  'product_id',
  'category_id',
  'category_code',
  'brand',
  'price',
  'user_id',
  'user_session',
] as const;

/** One column's name. */
export type Column = (typeof COLUMNS)[number];

/** The header line, exactly as the published files have it (without the line end). */
export const HEADER = COLUMNS.join(',');

/**
 * The event types the dataset documents. Only `view`, `cart` and `purchase` occur in the published
 * months; `remove_from_cart` is documented and therefore accepted.
 */
export const EVENT_TYPES = ['view', 'cart', 'remove_from_cart', 'purchase'] as const;

/** One event type. */
export type EventType = (typeof EVENT_TYPES)[number];

/** `event_time` values look like `2019-10-01 00:00:00 UTC`. */
export const EVENT_TIME_PATTERN = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/;

/** `user_session` is a lower-case UUID, or empty in a handful of rows. */
export const USER_SESSION_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A month of the dataset, named as the files are (`2019-Oct`). */
export interface DatasetMonth {
  /** The file stem, such as `2019-Oct`. */
  name: string;
  /** The first day of the month, UTC, as `YYYY-MM-DD`. */
  start: string;
  /** Rows in the published file. */
  rows: number;
  /** Bytes of the published `.csv.gz` file at REES46. */
  gzipBytes: number;
}

/** The months REES46 publishes, with their published sizes (reference figures, not computed here). */
export const MONTHS: readonly DatasetMonth[] = [
  { name: '2019-Oct', start: '2019-10-01', rows: 42_448_764, gzipBytes: 1_741_928_540 },
  { name: '2019-Nov', start: '2019-11-01', rows: 67_501_979, gzipBytes: 2_890_421_023 },
  { name: '2019-Dec', start: '2019-12-01', rows: 67_542_878, gzipBytes: 2_951_549_375 },
  { name: '2020-Jan', start: '2020-01-01', rows: 55_967_041, gzipBytes: 2_390_063_923 },
  { name: '2020-Feb', start: '2020-02-01', rows: 55_318_565, gzipBytes: 2_347_087_112 },
  { name: '2020-Mar', start: '2020-03-01', rows: 56_341_241, gzipBytes: 2_417_362_205 },
  { name: '2020-Apr', start: '2020-04-01', rows: 66_589_268, gzipBytes: 2_929_933_389 },
];
