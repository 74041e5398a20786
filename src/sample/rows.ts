/**
 * Synthesis of one month's CSV, chunk by chunk, straight into byte buffers: the header line, then rows in
 * time order that follow the published files' schema and shares (see `src/dataset/schema.ts` and the dataset
 * reference). Nothing here does I/O; the caller hands in a buffer and writes out what was filled.
 *
 * How the rows come about:
 * - time is a function of the bytes written so far, through an hourly curve (quiet nights, busy evenings),
 *   so the rows cover the whole month and stay in order whatever the target size, and the first one is at
 *   midnight of the first day;
 * - a fixed number of sessions are open at once, scaled so that a session lasts minutes of event time; each
 *   row belongs to a random open one, and a session that has had its events is replaced by a new one (of a
 *   returning or a new user);
 * - a session browses products of one category, now and then of another, and puts in the cart or buys the
 *   product it last viewed;
 * - rare rows (a zero price, an empty `user_session`, a row repeated) come at their published rates, and each
 *   is forced once early in the file if chance has not produced it, so that even a tiny file has them.
 */
import { type DatasetMonth, HEADER } from '../dataset/schema.js';
import { type Catalog } from './catalog.js';
import { Random } from './random.js';

/** Bytes of an average row, as in the published files (5,668,612,855 bytes / 42,448,764 rows in October). */
export const AVERAGE_ROW_BYTES = 134;

/** The event shares of a month, and the share of rows whose category has no code. */
interface MonthShares {
  view: number;
  cart: number;
  emptyCategoryCode: number;
}

const OCTOBER: MonthShares = { view: 0.9607, cart: 0.0218, emptyCategoryCode: 0.318 };
const NOVEMBER: MonthShares = { view: 0.9415, cart: 0.0449, emptyCategoryCode: 0.324 };

/** Published shares; months without published event shares take November's. */
const SHARES: Readonly<Record<string, MonthShares>> = {
  '2019-Oct': OCTOBER,
  '2019-Nov': NOVEMBER,
  '2019-Dec': { ...NOVEMBER, emptyCategoryCode: 0.105 },
  '2020-Jan': { ...NOVEMBER, emptyCategoryCode: 0.09 },
};
const OTHER_MONTHS: MonthShares = { ...NOVEMBER, emptyCategoryCode: 0.1 };

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Rare rows, as thresholds on one 32-bit draw per row (disjoint ranges, so one draw serves all): a price of
 * 0.00 (188,088 of 67.5 million rows in November), a row repeated (a few per thousand rows), no session.
 */
const ZERO_PRICE_BELOW = Math.round(0.0028 * TWO_POW_32);
const REPEAT_BELOW = ZERO_PRICE_BELOW + Math.round(0.0015 * TWO_POW_32);
/** About 2 rows in 42 million have no session in October. */
const EMPTY_SESSION_FROM = TWO_POW_32 - 215;

/** Events of a session: on average, and at most. */
const MEAN_SESSION_EVENTS = 5;
const MAX_SESSION_EVENTS = 300;
/** Event time a session spans, roughly, which with the row rate sets how many are open at once. */
const SESSION_SECONDS = 900;
const MAX_OPEN_SESSIONS = 4096;
/** Chance that a new session is a returning user's, and how many recent users can return. */
const RETURNING_SHARE = 0.3;
const RECENT_USERS = 8192;
/** After a view, the chance that the next view is in another category, or of another product. */
const NEW_CATEGORY_BELOW = Math.round(0.08 * TWO_POW_32);
const NEW_PRODUCT_BELOW = Math.round(0.5 * TWO_POW_32);

/** `user_id` ranges: long-registered users, and users registered during the month (ids grow with time). */
const OLD_USER_FIRST = 150_000_000;
const OLD_USER_SPAN = 362_000_000;
const NEW_USER_FIRST = 512_000_000;
const NEW_USERS_PER_MONTH = 8_000_000;

/** A session's tail (`,user_id,user_session\n`) is at most 49 bytes; slots are 64 apart. */
const TAIL_STRIDE = 64;
/** `YYYY-MM-DD hh:mm:ss UTC` */
const TIME_BYTES = 23;

const VIEW = 0;
const CART = 1;
const PURCHASE = 2;
/** `,view,` `,cart,` `,purchase,` back to back, and where each starts and ends. */
const TYPE_BYTES = bytesOf(Buffer.from(',view,,cart,,purchase,', 'latin1'));
const TYPE_START = [0, 6, 12];
const TYPE_END = [6, 12, 22];
const ZERO_PRICE = bytesOf(Buffer.from('0.00', 'latin1'));
/** The two lower-case hex digits of each byte value, as a 16-bit little-endian pair (first digit first). */
const HEX_PAIRS = (() => {
  const digits = Buffer.from('0123456789abcdef', 'latin1');
  const pairs = new Uint16Array(256);
  for (let value = 0; value < 256; value++) {
    pairs[value] = (digits[value >>> 4] as number) | ((digits[value & 15] as number) << 8);
  }
  return pairs;
})();

const FORCE_ZERO_PRICE = 1;
const FORCE_EMPTY_SESSION = 2;
const FORCE_REPEAT = 4;

/** One month's rows, written into caller-supplied chunks by {@link MonthRows.fill}. */
export class MonthRows {
  /** The buffer a chunk must at least have, so that a whole row (or the header) fits in it. */
  readonly minimumChunk: number;

  private readonly random: Random;
  private readonly catalog: Catalog;
  private readonly products: Bytes;
  private readonly viewBelow: number;
  private readonly cartBelow: number;
  private readonly emptyCategoryCode: number;
  private readonly monthIndex: number;
  private readonly maxRowBytes: number;
  private readonly header: Buffer;

  /** Bytes of data rows to write (the target less the header). */
  private readonly dataTarget: number;
  private dataBytes = 0;
  private written = 0;
  private rowCount = 0;

  /** The clock: where each hour of the month ends, in data bytes, and seconds per byte within it. */
  private readonly hourEnd: Float64Array;
  private readonly hourScale: Float64Array;
  private readonly time: Bytes;
  private hour = -1;
  private second = -1;

  /** Open sessions, by slot. */
  private readonly openSessions: number;
  private readonly remaining: Int32Array;
  private readonly category: Int32Array;
  private readonly product: Int32Array;
  private readonly tails: Bytes;
  private readonly tailLength: Uint8Array;
  /** Where the `user_session` starts in a slot's tail: the tail of a row without session ends there. */
  private readonly sessionStart: Uint8Array;
  private readonly recentUsers: Uint32Array;
  private recentCount = 0;

  /** Rows forced once if chance has not produced them by then (see the module comment). */
  private pendingForced = FORCE_ZERO_PRICE | FORCE_EMPTY_SESSION | FORCE_REPEAT;
  private readonly forceZeroPriceAt: number;
  private readonly forceEmptySessionAt: number;
  private readonly forceRepeatAt: number;

  /** A row being repeated, and how many more times. */
  private readonly repeated: Bytes;
  private repeatedLength = 0;
  private repeatsLeft = 0;

  /**
   * @param catalog the store's catalog (shared by the months of a seed)
   * @param month the month to write
   * @param seed the sample's seed; each month draws from its own stream of it
   * @param targetBytes the CSV's size to aim at, header included; the file ends with the first row that
   *   reaches it (so it is at most a few rows longer), or later if a forced rare row is still due
   */
  constructor(catalog: Catalog, month: DatasetMonth, seed: number, targetBytes: number) {
    this.catalog = catalog;
    this.products = bytesOf(catalog.bytes);
    this.random = Random.from(seed, `month:${month.name}`);
    const shares = SHARES[month.name] ?? OTHER_MONTHS;
    this.viewBelow = Math.round(shares.view * TWO_POW_32);
    this.cartBelow = Math.round((shares.view + shares.cart) * TWO_POW_32);
    this.emptyCategoryCode = shares.emptyCategoryCode;
    this.monthIndex = monthsSince2019Oct(month.start);
    this.header = Buffer.from(`${HEADER}\n`, 'latin1');
    this.maxRowBytes = TIME_BYTES + 10 + catalog.longestProduct + TAIL_STRIDE;
    this.minimumChunk = Math.max(this.header.length, this.maxRowBytes);
    this.repeated = bytesOf(new Uint8Array(this.maxRowBytes));
    this.dataTarget = Math.max(1, targetBytes - this.header.length);

    const days = daysIn(month.start);
    const clock = hourlyClock(this.random, days, this.dataTarget);
    this.hourEnd = clock.hourEnd;
    this.hourScale = clock.hourScale;
    this.time = bytesOf(Buffer.from(`${month.start} 00:00:00 UTC`, 'latin1'));

    const estimatedRows = this.dataTarget / AVERAGE_ROW_BYTES;
    const rowsPerSecond = estimatedRows / (days * 86_400);
    this.openSessions = Math.min(
      MAX_OPEN_SESSIONS,
      Math.max(1, Math.round((SESSION_SECONDS * rowsPerSecond) / MEAN_SESSION_EVENTS)),
    );
    this.remaining = new Int32Array(this.openSessions);
    this.category = new Int32Array(this.openSessions);
    this.product = new Int32Array(this.openSessions);
    this.tails = bytesOf(new Uint8Array(this.openSessions * TAIL_STRIDE));
    this.tailLength = new Uint8Array(this.openSessions);
    this.sessionStart = new Uint8Array(this.openSessions);
    this.recentUsers = new Uint32Array(RECENT_USERS);

    // in the first half of the estimated rows, and never the first row (which stays an ordinary one)
    const span = Math.max(1, Math.floor(estimatedRows / 2));
    this.forceZeroPriceAt = 1 + this.random.below(span);
    this.forceEmptySessionAt = 1 + this.random.below(span);
    this.forceRepeatAt = 1 + this.random.below(span);
  }

  /** Data rows written so far (the header excluded). */
  get rows(): number {
    return this.rowCount;
  }

  /** Bytes written so far, the header included. */
  get bytes(): number {
    return this.written;
  }

  /**
   * Writes the next whole rows (the header first) into `chunk` from its start, as many as fit, and returns
   * how many bytes were written: 0 once the month is complete.
   */
  fill(chunk: Uint8Array): number {
    if (chunk.length < this.minimumChunk) throw new Error(`a chunk needs at least ${this.minimumChunk} bytes`);
    let at = 0;
    if (this.written === 0) {
      chunk.set(this.header);
      at = this.header.length;
    }
    const out = bytesOf(chunk);
    const last = chunk.length - this.maxRowBytes;
    while (at <= last) {
      if (this.repeatsLeft > 0) {
        at = copy(this.repeated, 0, this.repeatedLength, out, at);
        this.dataBytes += this.repeatedLength;
        this.rowCount++;
        this.repeatsLeft--;
        continue;
      }
      if (this.dataBytes >= this.dataTarget && this.pendingForced === 0) break;
      at = this.writeRow(out, at);
    }
    this.written += at;
    return at;
  }

  private writeRow(out: Bytes, start: number): number {
    const random = this.random;
    const catalog = this.catalog;
    this.tick();
    let at = copy(this.time, 0, TIME_BYTES, out, start);

    const slot = this.openSessions === 1 ? 0 : random.below(this.openSessions);
    let fresh = false;
    if (this.remaining[slot] === 0) {
      this.openSession(slot);
      fresh = true;
    }
    this.remaining[slot] = (this.remaining[slot] as number) - 1;

    const kind = random.next();
    let type = VIEW;
    if (kind >= this.viewBelow) type = kind < this.cartBelow ? CART : PURCHASE;
    else if (!fresh) {
      // carts and purchases are of the product last viewed, so only a view moves on
      const move = random.next();
      if (move < NEW_CATEGORY_BELOW) {
        const category = catalog.pickCategory(random, random.float() >= this.emptyCategoryCode);
        this.category[slot] = category;
        this.product[slot] = catalog.pickProduct(random, category);
      } else if (move < NEW_PRODUCT_BELOW) {
        this.product[slot] = catalog.pickProduct(random, this.category[slot] as number);
      }
    }
    at = copy(TYPE_BYTES, TYPE_START[type] as number, TYPE_END[type] as number, out, at);

    const rare = random.next();
    let zeroPrice = rare < ZERO_PRICE_BELOW;
    let repeat = rare >= ZERO_PRICE_BELOW && rare < REPEAT_BELOW && type !== PURCHASE;
    let emptySession = rare >= EMPTY_SESSION_FROM;
    if (this.pendingForced !== 0) {
      const row = this.rowCount;
      zeroPrice ||= (this.pendingForced & FORCE_ZERO_PRICE) !== 0 && row >= this.forceZeroPriceAt;
      emptySession ||= (this.pendingForced & FORCE_EMPTY_SESSION) !== 0 && row >= this.forceEmptySessionAt;
      repeat ||= (this.pendingForced & FORCE_REPEAT) !== 0 && row >= this.forceRepeatAt && type !== PURCHASE;
      if (zeroPrice) this.pendingForced &= ~FORCE_ZERO_PRICE;
      if (emptySession) this.pendingForced &= ~FORCE_EMPTY_SESSION;
      if (repeat) this.pendingForced &= ~FORCE_REPEAT;
    }

    const product = this.product[slot] as number;
    if (zeroPrice) {
      at = copy(this.products, catalog.productStart[product] as number, catalog.priceStart[product] as number, out, at);
      at = copy(ZERO_PRICE, 0, 4, out, at);
    } else {
      at = copy(this.products, catalog.productStart[product] as number, catalog.priceEnd[product] as number, out, at);
    }

    const tail = slot * TAIL_STRIDE;
    if (emptySession) {
      at = copy(this.tails, tail, tail + (this.sessionStart[slot] as number), out, at);
      out.bytes[at++] = 0x0a;
    } else {
      at = copy(this.tails, tail, tail + (this.tailLength[slot] as number), out, at);
    }

    const length = at - start;
    this.dataBytes += length;
    this.rowCount++;
    if (repeat) {
      copy(out, start, at, this.repeated, 0);
      this.repeatedLength = length;
      this.repeatsLeft = this.repeatCount();
    }
    return at;
  }

  /** Sets the clock's text to the time of the next row, reformatting only the fields that changed. */
  private tick(): void {
    const at = this.dataBytes;
    let hour = this.hour < 0 ? 0 : this.hour;
    const lastHour = this.hourEnd.length - 1;
    while (hour < lastHour && at >= (this.hourEnd[hour] as number)) hour++;
    const from = hour === 0 ? 0 : (this.hourEnd[hour - 1] as number);
    const second = Math.min(3599, Math.floor((at - from) * (this.hourScale[hour] as number)));
    const time = this.time.bytes;
    if (hour !== this.hour) {
      this.hour = hour;
      this.second = -1;
      const day = Math.floor(hour / 24) + 1;
      const hourOfDay = hour % 24;
      time[8] = 48 + Math.floor(day / 10);
      time[9] = 48 + (day % 10);
      time[11] = 48 + Math.floor(hourOfDay / 10);
      time[12] = 48 + (hourOfDay % 10);
    }
    if (second !== this.second) {
      this.second = second;
      const minute = Math.floor(second / 60);
      const secondOfMinute = second % 60;
      time[14] = 48 + Math.floor(minute / 10);
      time[15] = 48 + (minute % 10);
      time[17] = 48 + Math.floor(secondOfMinute / 10);
      time[18] = 48 + (secondOfMinute % 10);
    }
  }

  /** Replaces the session of a slot by a new one: its length, user, `user_session`, and first product. */
  private openSession(slot: number): void {
    const random = this.random;
    const events = 1 + Math.floor(-Math.log(1 - random.float()) * (MEAN_SESSION_EVENTS - 1));
    this.remaining[slot] = Math.min(MAX_SESSION_EVENTS, events);

    let userId: number;
    if (this.recentCount > 0 && random.float() < RETURNING_SHARE) {
      userId = this.recentUsers[random.below(Math.min(this.recentCount, RECENT_USERS))] as number;
    } else {
      userId = this.newUser();
      this.recentUsers[this.recentCount % RECENT_USERS] = userId;
      this.recentCount++;
    }

    const tails = this.tails.bytes;
    const tail = slot * TAIL_STRIDE;
    tails[tail] = 0x2c;
    let at = writeDecimal(userId, tails, tail + 1);
    tails[at++] = 0x2c;
    this.sessionStart[slot] = at - tail;
    at = writeUuidV4(random, this.tails, at);
    tails[at++] = 0x0a;
    this.tailLength[slot] = at - tail;

    const category = this.catalog.pickCategory(random, random.float() >= this.emptyCategoryCode);
    this.category[slot] = category;
    this.product[slot] = this.catalog.pickProduct(random, category);
  }

  /** A user who has not appeared yet: mostly long-registered, some registered during the month. */
  private newUser(): number {
    const random = this.random;
    if (random.float() < 0.6) return OLD_USER_FIRST + random.below(OLD_USER_SPAN);
    const progress = Math.min(1, this.dataBytes / this.dataTarget);
    return (
      NEW_USER_FIRST +
      this.monthIndex * NEW_USERS_PER_MONTH +
      Math.floor(progress * NEW_USERS_PER_MONTH) +
      random.below(2_000)
    );
  }

  /** Extra copies of a repeated row: mostly one, sometimes a few, rarely dozens (up to 78, as published). */
  private repeatCount(): number {
    const random = this.random;
    const u = random.float();
    if (u < 0.75) return 1;
    if (u < 0.95) return 2 + random.below(4);
    if (u < 0.995) return 6 + random.below(15);
    return 21 + random.below(58);
  }
}

/**
 * Copies bytes eight at a time through DataViews (which allow unaligned access), then the odd ones: rows are
 * made of segments of a few dozen bytes, for which this is several times faster than a byte loop or the
 * native `set`/`copy` calls with the views they need. Eight bytes travel as a double, which is exact for any
 * bit pattern but a NaN's; a NaN needs a byte 0x7f or 0xff with 0xf0 or more next to it, which text without
 * DEL characters (ASCII, or UTF-8) never has.
 */
function copy(source: Bytes, from: number, to: number, target: Bytes, at: number): number {
  const words = to - 7;
  let i = from;
  for (; i < words; i += 8, at += 8) target.view.setFloat64(at, source.view.getFloat64(i, true), true);
  if (i < to - 3) {
    target.view.setUint32(at, source.view.getUint32(i, true), true);
    i += 4;
    at += 4;
  }
  for (; i < to; i++) target.bytes[at++] = source.bytes[i] as number;
  return at;
}

/** A byte array with a DataView over it, for {@link copy}. */
interface Bytes {
  bytes: Uint8Array;
  view: DataView;
}

function bytesOf(bytes: Uint8Array): Bytes {
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

function writeDecimal(value: number, target: Uint8Array, at: number): number {
  let digits = 1;
  for (let power = 10; power <= value; power *= 10) digits++;
  let rest = value;
  for (let i = digits - 1; i >= 0; i--) {
    target[at + i] = 48 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return at + digits;
}

/** Writes a random (version 4, RFC 9562 variant) UUID in lower-case text. */
function writeUuidV4(random: Random, target: Bytes, at: number): number {
  const high = random.next();
  const middle = random.next();
  const low = random.next();
  const last = random.next();
  at = writeHex32(target, at, high);
  target.bytes[at++] = 0x2d;
  at = writeHex16(target, at, middle >>> 16);
  target.bytes[at++] = 0x2d;
  at = writeHex16(target, at, 0x4000 | (middle & 0x0fff));
  target.bytes[at++] = 0x2d;
  at = writeHex16(target, at, 0x8000 | ((low >>> 16) & 0x3fff));
  target.bytes[at++] = 0x2d;
  at = writeHex16(target, at, low & 0xffff);
  return writeHex32(target, at, last);
}

function writeHex16(target: Bytes, at: number, value: number): number {
  target.view.setUint16(at, HEX_PAIRS[value >>> 8] as number, true);
  target.view.setUint16(at + 2, HEX_PAIRS[value & 0xff] as number, true);
  return at + 4;
}

function writeHex32(target: Bytes, at: number, value: number): number {
  return writeHex16(target, writeHex16(target, at, value >>> 16), value & 0xffff);
}

/**
 * The month's clock, hour by hour: each hour's share of the rows follows a daily curve (busiest in the
 * European evening, quietest before dawn) with some day-to-day variation, and its end is expressed in data
 * bytes so that the writer can tell the time from how much it has written.
 */
function hourlyClock(
  random: Random,
  days: number,
  dataTarget: number,
): { hourEnd: Float64Array; hourScale: Float64Array } {
  const hours = days * 24;
  const weight = new Float64Array(hours);
  let total = 0;
  for (let day = 0; day < days; day++) {
    const dayFactor = 0.85 + 0.3 * random.float();
    for (let hour = 0; hour < 24; hour++) {
      const curve = Math.sin((Math.PI * (hour - 3)) / 24);
      const w = dayFactor * (0.15 + curve * curve);
      weight[day * 24 + hour] = w;
      total += w;
    }
  }
  const hourEnd = new Float64Array(hours);
  const hourScale = new Float64Array(hours);
  let running = 0;
  for (let h = 0; h < hours; h++) {
    const from = (running / total) * dataTarget;
    running += weight[h] as number;
    hourEnd[h] = h === hours - 1 ? dataTarget : (running / total) * dataTarget;
    const width = (hourEnd[h] as number) - from;
    hourScale[h] = width > 0 ? 3600 / width : 0;
  }
  return { hourEnd, hourScale };
}

/** Days in the month that starts on `start` (`YYYY-MM-DD`). */
function daysIn(start: string): number {
  const [year, month] = start.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Months from October 2019 (the first published month) to the month that starts on `start`. */
function monthsSince2019Oct(start: string): number {
  const [year, month] = start.split('-').map(Number) as [number, number];
  return Math.max(0, (year - 2019) * 12 + month - 10);
}
