/**
 * A gzip file made from the deflate stream of a one-entry zip, as the zip is written, so that the CSV is
 * deflated once for both. A gzip member and a zip entry are two framings of the same raw deflate data (RFC 1952
 * and PKWARE's APPNOTE): the gzip header, the data, then the CRC-32 and size of the uncompressed bytes, which
 * the zip's data descriptor carries. Deflating is by far the largest cost of generating the sample, and on
 * two cores a second deflate of every byte would halve the pace.
 *
 * The zip must be a single entry written with a data descriptor and no archive comment, as yazl writes an
 * entry added from a stream: `[local header][deflate data][data descriptor][central directory][end records]`.
 * The bytes between the local header and the data descriptor are the deflate data; since where it ends is
 * only known at the end, the last {@link TRAILER_ROOM} bytes are held back until the zip is complete.
 */
import { Transform, type TransformCallback, type Writable } from 'node:stream';

/** Room for everything after the deflate data of a one-entry zip, zip64 records included (about 250 bytes). */
const TRAILER_ROOM = 1024;

/**
 * The gzip header: no name, no time (0 keeps the file the same bytes on every run), XFL 4 for the fastest
 * level (as zlib writes it for level 1), OS 3 (Unix, as zlib writes it on Linux).
 */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x04, 0x03]);

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;

/**
 * A pass-through for the bytes of a one-entry zip that also writes, to `gzip`, a gzip file of the entry's
 * data. Ends `gzip` when the zip ends. Backpressure from `gzip` holds back the zip too.
 */
export class GzipFromZip extends Transform {
  private readonly gzip: Writable;
  /** Length of the local header, once its fixed part has been seen. */
  private headerLength = -1;
  /** Zip bytes not yet handed on to the gzip, and the zip offset of the first of them. */
  private held: Buffer = Buffer.alloc(0);
  private heldOffset = 0;

  /**
   * @param gzip where the gzip file goes
   * @param highWaterMark buffering of the zip side, as for any stream
   */
  constructor(gzip: Writable, highWaterMark?: number) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this.gzip = gzip;
    this.gzip.write(GZIP_HEADER);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.push(chunk);
    const bytes = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const offset = this.heldOffset;
    const end = offset + bytes.length;

    if (this.headerLength < 0) {
      if (bytes.length < 30) return this.hold(bytes, offset, callback);
      if (bytes.readUInt32LE(0) !== LOCAL_HEADER) {
        return callback(new Error('the zip does not start with a local header'));
      }
      this.headerLength = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
    }

    const from = Math.min(end, Math.max(offset, this.headerLength));
    const to = end - TRAILER_ROOM;
    if (to <= from) return this.hold(bytes.subarray(from - offset), from, callback);
    this.held = bytes.subarray(to - offset);
    this.heldOffset = to;
    if (this.gzip.write(bytes.subarray(from - offset, to - offset))) callback();
    else this.gzip.once('drain', () => callback());
  }

  override _flush(callback: TransformCallback): void {
    let end: { dataEnd: number; crc32: number; size: number };
    try {
      end = readTrailer(this.held, this.heldOffset, this.headerLength);
    } catch (error) {
      return callback(error as Error);
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(end.crc32, 0);
    // ISIZE is the size modulo 2^32 (RFC 1952)
    trailer.writeUInt32LE(end.size % 0x1_0000_0000, 4);
    const data = this.held.subarray(Math.max(0, this.headerLength - this.heldOffset), end.dataEnd - this.heldOffset);
    this.gzip.write(data);
    this.gzip.end(trailer);
    callback();
  }

  private hold(bytes: Buffer, offset: number, callback: TransformCallback): void {
    this.held = bytes;
    this.heldOffset = offset;
    callback();
  }
}

/**
 * Reads the end of a one-entry zip: where the deflate data ends (where the data descriptor starts), and the
 * CRC-32 and size of the uncompressed data. `tail` holds the zip's last bytes, from offset `tailOffset`.
 */
function readTrailer(
  tail: Buffer,
  tailOffset: number,
  headerLength: number,
): { dataEnd: number; crc32: number; size: number } {
  const at = (offset: number): number => {
    const index = offset - tailOffset;
    if (index < 0 || index >= tail.length) throw new Error('the end of the zip is not as a one-entry zip has it');
    return index;
  };
  const total = tailOffset + tail.length;

  const end = total - 22;
  if (tail.readUInt32LE(at(end)) !== END_OF_CENTRAL_DIRECTORY) {
    throw new Error('the zip has no end record (or a comment)');
  }
  let centralDirectory = tail.readUInt32LE(at(end + 16));
  if (centralDirectory === 0xffffffff) {
    const locator = end - 20;
    if (tail.readUInt32LE(at(locator)) !== ZIP64_END_LOCATOR) throw new Error('the zip64 end locator is missing');
    const record = Number(tail.readBigUInt64LE(at(locator + 8)));
    if (tail.readUInt32LE(at(record)) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      throw new Error('the zip64 end record is missing');
    }
    centralDirectory = Number(tail.readBigUInt64LE(at(record + 48)));
  }

  // a zip64 data descriptor (24 bytes) has 8-byte sizes, a plain one (16 bytes) 4-byte ones
  const zip64 = centralDirectory - 24;
  if (zip64 >= headerLength && tail.readUInt32LE(at(zip64)) === DATA_DESCRIPTOR) {
    const compressed = Number(tail.readBigUInt64LE(at(zip64 + 8)));
    if (compressed === zip64 - headerLength) {
      return {
        dataEnd: zip64,
        crc32: tail.readUInt32LE(at(zip64 + 4)),
        size: Number(tail.readBigUInt64LE(at(zip64 + 16))),
      };
    }
  }
  const plain = centralDirectory - 16;
  if (tail.readUInt32LE(at(plain)) === DATA_DESCRIPTOR && tail.readUInt32LE(at(plain + 8)) === plain - headerLength) {
    return { dataEnd: plain, crc32: tail.readUInt32LE(at(plain + 4)), size: tail.readUInt32LE(at(plain + 12)) };
  }
  throw new Error('the zip entry has no data descriptor where its data should end');
}
