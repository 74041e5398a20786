/**
 * The records of a zip file of one deflated entry, written as a stream (PKWARE's APPNOTE.TXT 6.3.10, 4.3): a
 * local file header whose CRC-32 and sizes are left for later (general purpose bit 3), the raw deflate data as
 * it is made, a data descriptor with the CRC-32 and the sizes, the central directory, and the end records. The
 * generator streams the same deflate data into the gzip (see `./parallel-deflate.ts`), so the zip costs no
 * deflate of its own.
 *
 * A zip's sizes and offsets are 32-bit fields. One that does not fit takes its ZIP64 form (APPNOTE 4.5): the
 * field holds 0xFFFFFFFF and the value goes, 64 bits wide, into a ZIP64 extra field or the ZIP64 end records.
 * The data descriptor alone cannot wait for the sizes: its sizes are 8 bytes exactly when the local header has
 * a ZIP64 extra field (APPNOTE 4.3.9.2), so that is decided before the first byte of data, from how large the
 * entry may grow. Readers that take the entry from the central directory (unzip, Python's zipfile, most) are
 * indifferent to this; a streaming reader that instead expects 8-byte sizes only past 4 GiB (Java's
 * ZipInputStream) misreads an entry announced as ZIP64 that stays smaller, so the bound should be tight.
 */

const LOCAL_FILE_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_EXTRA_FIELD = 0x0001;

const DEFLATED = 8;
/** General purpose bit 3: the CRC-32 and sizes come in a data descriptor after the data. */
const SIZES_AFTER_DATA = 0x0008;
/** General purpose bit 11: the name is UTF-8 (without it, readers take it as code page 437). */
const UTF8_NAME = 0x0800;
/** Versions needed to extract: 2.0 for deflate, 4.5 for ZIP64. */
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** Made by Unix (so that readers apply the mode in the external attributes), to APPNOTE 6.3. */
const MADE_BY_UNIX = (3 << 8) | 63;
/** What a 32-bit field holds when its value is in a ZIP64 record instead. */
const IN_ZIP64 = 0xffffffff;

/** Sizes and offsets at or above this take their ZIP64 form (0xFFFFFFFF itself being that form's mark). */
export const ZIP64_LIMIT = 0xffffffff;

/** The entry of a {@link OneEntryZip}. */
export interface ZipEntry {
  /** The entry's name, a path with forward slashes. */
  name: string;
  /**
   * The entry's time. DOS fields have no time zone; they are taken from the UTC fields of this Date, so that
   * the zip is the same bytes in every time zone. Seconds are rounded down to even ones, as DOS keeps them.
   */
  modified: Date;
  /** Unix file type and mode, as `stat` gives them (`0o100644` for a regular file readable by all). */
  mode: number;
  /**
   * The most bytes the entry can hold, deflated or not. At or above the ZIP64 limit, the local header
   * announces ZIP64 sizes, whatever the entry turns out to hold.
   */
  maxBytes: number;
  /**
   * Sizes and offsets at or above this take their ZIP64 form. {@link ZIP64_LIMIT} by default; a lower one
   * makes a small zip with every ZIP64 record, to check readers with.
   */
  zip64Limit?: number;
}

/** The entry's data once it is all written, as the data descriptor and the central directory give it. */
export interface ZipEntryData {
  /** CRC-32 of the uncompressed data. */
  crc32: number;
  /** Bytes of deflate data between the local header and the data descriptor. */
  compressedBytes: number;
  /** Bytes of the data uncompressed. */
  uncompressedBytes: number;
}

/**
 * A zip file of one deflated entry: write {@link OneEntryZip.header}, then the raw deflate data, then
 * {@link OneEntryZip.trailer}.
 */
export class OneEntryZip {
  /** Whether the entry's sizes are in ZIP64 form: a ZIP64 extra field, and 8-byte sizes after the data. */
  readonly zip64: boolean;
  private readonly name: Buffer;
  private readonly flags: number;
  private readonly version: number;
  private readonly time: number;
  private readonly date: number;
  private readonly mode: number;
  private readonly maxBytes: number;
  private readonly limit: number;
  private readonly headerBytes: number;

  /** @throws RangeError for a time outside DOS's years (1980 to 2107), or a bad mode, size or limit */
  constructor(entry: ZipEntry) {
    const year = entry.modified.getUTCFullYear();
    if (!(year >= 1980 && year <= 2107)) throw new RangeError(`a zip's time is from 1980 to 2107: ${year}`);
    if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0xffff) {
      throw new RangeError(`mode must fit 16 bits: ${entry.mode}`);
    }
    if (!Number.isSafeInteger(entry.maxBytes) || entry.maxBytes < 0) {
      throw new RangeError(`maxBytes must be a non-negative integer: ${entry.maxBytes}`);
    }
    this.limit = entry.zip64Limit ?? ZIP64_LIMIT;
    if (!Number.isInteger(this.limit) || this.limit < 0 || this.limit > ZIP64_LIMIT) {
      throw new RangeError(`zip64Limit must be an integer from 0 to ${ZIP64_LIMIT}: ${this.limit}`);
    }
    this.zip64 = entry.maxBytes >= this.limit;
    this.name = Buffer.from(entry.name, 'utf8');
    const ascii = this.name.every((byte) => byte < 0x80);
    this.flags = SIZES_AFTER_DATA | (ascii ? 0 : UTF8_NAME);
    this.version = this.zip64 ? VERSION_ZIP64 : VERSION_DEFLATE;
    const time = entry.modified;
    this.time = (time.getUTCHours() << 11) | (time.getUTCMinutes() << 5) | (time.getUTCSeconds() >> 1);
    this.date = ((year - 1980) << 9) | ((time.getUTCMonth() + 1) << 5) | time.getUTCDate();
    this.mode = entry.mode;
    this.maxBytes = entry.maxBytes;
    this.headerBytes = this.header().length;
  }

  /** The local file header, which starts the zip. */
  header(): Buffer {
    // the sizes are not known yet: 0 as bit 3 asks, in the extra field when they are to be 64 bits
    const extra = this.zip64 ? zip64ExtraField([0, 0]) : Buffer.alloc(0);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(LOCAL_FILE_HEADER, 0);
    header.writeUInt16LE(this.version, 4);
    header.writeUInt16LE(this.flags, 6);
    header.writeUInt16LE(DEFLATED, 8);
    header.writeUInt16LE(this.time, 10);
    header.writeUInt16LE(this.date, 12);
    header.writeUInt32LE(0, 14);
    header.writeUInt32LE(this.zip64 ? IN_ZIP64 : 0, 18);
    header.writeUInt32LE(this.zip64 ? IN_ZIP64 : 0, 22);
    header.writeUInt16LE(this.name.length, 26);
    header.writeUInt16LE(extra.length, 28);
    return Buffer.concat([header, this.name, extra]);
  }

  /**
   * Everything after the deflate data: the data descriptor, the central directory, the ZIP64 end records if
   * the central directory's size or place needs them, and the end of central directory record.
   *
   * @throws RangeError if the entry outgrew the 32-bit sizes its local header announced
   */
  trailer(data: ZipEntryData): Buffer {
    const { crc32, compressedBytes, uncompressedBytes } = data;
    if (!this.zip64 && Math.max(compressedBytes, uncompressedBytes) >= this.limit) {
      throw new RangeError(
        `the zip entry holds ${uncompressedBytes} bytes (${compressedBytes} deflated), ` +
          `more than the ${this.maxBytes} its local header was written for`,
      );
    }

    const descriptor = Buffer.alloc(this.zip64 ? 24 : 16);
    descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(crc32 >>> 0, 4);
    if (this.zip64) {
      descriptor.writeBigUInt64LE(BigInt(compressedBytes), 8);
      descriptor.writeBigUInt64LE(BigInt(uncompressedBytes), 16);
    } else {
      descriptor.writeUInt32LE(compressedBytes, 8);
      descriptor.writeUInt32LE(uncompressedBytes, 12);
    }

    // the one entry's local header is at the start of the file
    const localHeaderOffset = 0;
    const offsetInZip64 = localHeaderOffset >= this.limit;
    // APPNOTE's order in the extra field: uncompressed size, compressed size, local header offset
    const wide = this.zip64 ? [uncompressedBytes, compressedBytes] : [];
    if (offsetInZip64) wide.push(localHeaderOffset);
    const extra = wide.length > 0 ? zip64ExtraField(wide) : Buffer.alloc(0);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(CENTRAL_DIRECTORY_HEADER, 0);
    record.writeUInt16LE(MADE_BY_UNIX, 4);
    record.writeUInt16LE(this.version, 6);
    record.writeUInt16LE(this.flags, 8);
    record.writeUInt16LE(DEFLATED, 10);
    record.writeUInt16LE(this.time, 12);
    record.writeUInt16LE(this.date, 14);
    record.writeUInt32LE(crc32 >>> 0, 16);
    record.writeUInt32LE(this.zip64 ? IN_ZIP64 : compressedBytes, 20);
    record.writeUInt32LE(this.zip64 ? IN_ZIP64 : uncompressedBytes, 24);
    record.writeUInt16LE(this.name.length, 28);
    record.writeUInt16LE(extra.length, 30);
    // comment length, disk number and internal attributes stay 0; the mode is the high half of the external ones
    record.writeUInt32LE(this.mode * 0x1_0000, 38);
    record.writeUInt32LE(offsetInZip64 ? IN_ZIP64 : localHeaderOffset, 42);
    const central = Buffer.concat([record, this.name, extra]);

    const centralOffset = this.headerBytes + compressedBytes + descriptor.length;
    const centralBytes = central.length;
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
    // this disk and the central directory's disk are both disk 0; one entry on it, one in all
    end.writeUInt16LE(1, 8);
    end.writeUInt16LE(1, 10);
    end.writeUInt32LE(centralBytes >= this.limit ? IN_ZIP64 : centralBytes, 12);
    end.writeUInt32LE(centralOffset >= this.limit ? IN_ZIP64 : centralOffset, 16);
    if (centralBytes < this.limit && centralOffset < this.limit) return Buffer.concat([descriptor, central, end]);

    const zip64End = Buffer.alloc(56);
    zip64End.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
    // the size of the record after this field
    zip64End.writeBigUInt64LE(44n, 4);
    zip64End.writeUInt16LE(MADE_BY_UNIX, 12);
    zip64End.writeUInt16LE(VERSION_ZIP64, 14);
    zip64End.writeBigUInt64LE(1n, 24);
    zip64End.writeBigUInt64LE(1n, 32);
    zip64End.writeBigUInt64LE(BigInt(centralBytes), 40);
    zip64End.writeBigUInt64LE(BigInt(centralOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_END_LOCATOR, 0);
    locator.writeBigUInt64LE(BigInt(centralOffset + centralBytes), 8);
    // one disk in all
    locator.writeUInt32LE(1, 16);
    return Buffer.concat([descriptor, central, zip64End, locator, end]);
  }
}

/** A ZIP64 extended information extra field holding `values`, 8 bytes each. */
function zip64ExtraField(values: number[]): Buffer {
  const field = Buffer.alloc(4 + 8 * values.length);
  field.writeUInt16LE(ZIP64_EXTRA_FIELD, 0);
  field.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, index) => field.writeBigUInt64LE(BigInt(value), 4 + 8 * index));
  return field;
}
