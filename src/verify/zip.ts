/**
 * Reading the CSV out of a zip, as Kaggle serves its downloads: one entry, stored or deflated, perhaps with a
 * data descriptor after its data and ZIP64 records when large (PKWARE's APPNOTE.TXT 6.3.10; `../sample/zip.ts`
 * writes such zips for the local sample).
 *
 * The central directory, at the end, is read first with positioned reads (a local file, or ranged reads of an
 * object): it says how many entries the zip holds, and where the entry's data starts and how long it is, which
 * a data descriptor leaves out of the local header. Then the whole zip is streamed once, for its checksums, and
 * {@link ZipEntryBytes} passes on the entry's stored bytes alone, to be inflated (or taken as they are).
 *
 * What makes a zip unreadable (no end record, a damaged directory, a second entry, an unknown compression) is a
 * {@link ZipProblem}, which the verifier reports as a problem of the input rather than failing.
 */
import { Transform, type TransformCallback } from 'node:stream';

const LOCAL_FILE_HEADER = 0x04034b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_EXTRA_FIELD = 0x0001;
/** What a 16- or 32-bit field holds when its value is in a ZIP64 record instead. */
const IN_ZIP64_16 = 0xffff;
const IN_ZIP64_32 = 0xffffffff;
/** The end record's fixed part, and the most a comment after it can add. */
const END_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
/** The most of the central directory read: enough for the first entry and the names of the next ones. */
const MAX_DIRECTORY_BYTES = 64 * 1024;
/** Names listed in the problem of a zip with more than one entry. */
const NAMES_SHOWN = 3;

/** Compression methods the verifier reads. */
export const STORED = 0;
export const DEFLATED = 8;

/** What is wrong with a zip, as a sentence for the report. */
export class ZipProblem extends Error {}

/** The zip's one entry, as its central directory gives it. */
export interface ZipEntryInfo {
  name: string;
  /** {@link STORED} or {@link DEFLATED}. */
  method: number;
  /** CRC-32 (zlib's) of the uncompressed data. */
  crc32: number;
  /** Bytes of the entry's data as stored, and uncompressed. */
  compressedBytes: number;
  uncompressedBytes: number;
  /** Where the entry's local header starts. */
  localHeaderOffset: number;
}

/** What the central directory says. */
export interface ZipLayout {
  /** Entries in the zip. */
  entries: number;
  /** The first entry: the one that is read. */
  entry: ZipEntryInfo;
  /** The names of the first few entries, for the problem of a zip with more than one. */
  names: string[];
}

/** Reads `length` bytes at `position` (fewer only at the end of the input). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

/** Whether bytes start as a zip does: a local file header. */
export function hasZipMagic(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes.readUInt32LE(0) === LOCAL_FILE_HEADER;
}

/** The compression method in a local file header (its first 30 bytes), when it is one that can be read. */
export function localHeaderMethod(header: Buffer): number | undefined {
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL_FILE_HEADER) return undefined;
  const method = header.readUInt16LE(8);
  return method === STORED || method === DEFLATED ? method : undefined;
}

/**
 * Reads the central directory of the zip of `size` bytes. Throws a {@link ZipProblem} when there is none, it
 * is damaged, or its first entry cannot be read (encrypted, or compressed by another method than stored or
 * deflate).
 */
export async function readZipLayout(readAt: ReadAt, size: number): Promise<ZipLayout> {
  // Step 1: the end of central directory record, the last one in the file
  const tailStart = Math.max(0, size - END_BYTES - MAX_COMMENT_BYTES);
  const tail = await readAt(tailStart, size - tailStart);
  let at = tail.length - END_BYTES;
  while (at >= 0 && tail.readUInt32LE(at) !== END_OF_CENTRAL_DIRECTORY) at -= 1;
  if (at < 0) {
    throw new ZipProblem('zip: no end of central directory record: the zip is truncated, or not a zip');
  }
  let entries = tail.readUInt16LE(at + 10);
  let directoryBytes = tail.readUInt32LE(at + 12);
  let directoryOffset = tail.readUInt32LE(at + 16);

  // Step 2: its ZIP64 form, when a field holds the mark that sends there
  if (entries === IN_ZIP64_16 || directoryBytes === IN_ZIP64_32 || directoryOffset === IN_ZIP64_32) {
    const locatorAt = tailStart + at - 20;
    const locator = locatorAt >= 0 ? await readAt(locatorAt, 20) : Buffer.alloc(0);
    if (locator.length < 20 || locator.readUInt32LE(0) !== ZIP64_END_LOCATOR) {
      throw new ZipProblem('zip: the ZIP64 end of central directory locator is missing');
    }
    const recordAt = safeNumber(locator.readBigUInt64LE(8));
    const record = await readAt(recordAt, 56);
    if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      throw new ZipProblem('zip: the ZIP64 end of central directory record is missing');
    }
    entries = safeNumber(record.readBigUInt64LE(32));
    directoryBytes = safeNumber(record.readBigUInt64LE(40));
    directoryOffset = safeNumber(record.readBigUInt64LE(48));
  }
  if (entries === 0) throw new ZipProblem('zip: no entries');
  if (directoryOffset + directoryBytes > size) {
    throw new ZipProblem('zip: the central directory lies past the end of the file: the zip is truncated');
  }

  // Step 3: the first entries of the central directory
  const directory = await readAt(directoryOffset, Math.min(directoryBytes, MAX_DIRECTORY_BYTES));
  const names: string[] = [];
  let entry: ZipEntryInfo | undefined;
  for (let p = 0; names.length < Math.min(entries, NAMES_SHOWN) && p + 46 <= directory.length;) {
    if (directory.readUInt32LE(p) !== CENTRAL_DIRECTORY_HEADER) {
      throw new ZipProblem('zip: a damaged central directory');
    }
    const flags = directory.readUInt16LE(p + 8);
    const nameBytes = directory.readUInt16LE(p + 28);
    const extraBytes = directory.readUInt16LE(p + 30);
    const commentBytes = directory.readUInt16LE(p + 32);
    if (p + 46 + nameBytes + extraBytes > directory.length) break;
    // bit 11: the name is UTF-8; otherwise code page 437, which agrees with latin1 on the characters names use
    const name = directory.toString(flags & 0x0800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameBytes);
    names.push(name);
    if (!entry) {
      entry = {
        name,
        method: directory.readUInt16LE(p + 10),
        crc32: directory.readUInt32LE(p + 16),
        compressedBytes: directory.readUInt32LE(p + 20),
        uncompressedBytes: directory.readUInt32LE(p + 24),
        localHeaderOffset: directory.readUInt32LE(p + 42),
      };
      readZip64Extra(directory.subarray(p + 46 + nameBytes, p + 46 + nameBytes + extraBytes), entry);
      if (flags & 0x0001) throw new ZipProblem(`zip: ${name} is encrypted`);
      if (entry.method !== STORED && entry.method !== DEFLATED) {
        throw new ZipProblem(`zip: ${name} is compressed by method ${entry.method}; only stored and deflate are read`);
      }
    }
    p += 46 + nameBytes + extraBytes + commentBytes;
  }
  if (!entry) throw new ZipProblem('zip: a damaged central directory');
  return { entries, entry, names };
}

/** Takes the ZIP64 sizes and offset of a central directory entry from its extra fields (APPNOTE 4.5.3). */
function readZip64Extra(extra: Buffer, entry: ZipEntryInfo): void {
  for (let p = 0; p + 4 <= extra.length;) {
    const id = extra.readUInt16LE(p);
    const length = extra.readUInt16LE(p + 2);
    if (id === ZIP64_EXTRA_FIELD) {
      // only the fields whose 32-bit form holds the mark are there, in this order
      let q = p + 4;
      const next = () => {
        if (q + 8 > p + 4 + length) throw new ZipProblem('zip: a damaged ZIP64 extra field');
        const value = safeNumber(extra.readBigUInt64LE(q));
        q += 8;
        return value;
      };
      if (entry.uncompressedBytes === IN_ZIP64_32) entry.uncompressedBytes = next();
      if (entry.compressedBytes === IN_ZIP64_32) entry.compressedBytes = next();
      if (entry.localHeaderOffset === IN_ZIP64_32) entry.localHeaderOffset = next();
      return;
    }
    p += 4 + length;
  }
}

function safeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipProblem('zip: a size or offset beyond 2^53');
  return Number(value);
}

/**
 * The stored bytes of a zip's one entry, out of the whole zip streamed through: its local header is read and
 * skipped, then `compressedBytes` bytes pass (or, with no central directory to tell, everything after the
 * header), and the rest (data descriptor, central directory) is dropped.
 */
export class ZipEntryBytes extends Transform {
  /** Bytes of the zip seen so far. */
  private position = 0;
  /** The local header, gathered until it is whole. */
  private header: Buffer = Buffer.alloc(0);
  /** Where the entry's data starts and ends in the zip; -1 until the local header is read. */
  private dataStart = -1;
  private dataEnd = Infinity;

  /**
   * @param entry where the local header is and how many bytes of data follow it; null when the central
   *   directory could not be read, and the entry is then taken from the zip's first local header on
   */
  constructor(private readonly entry: Pick<ZipEntryInfo, 'localHeaderOffset' | 'compressedBytes'> | null) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const chunkStart = this.position;
    this.position += chunk.length;
    let from = 0;
    if (this.dataStart < 0) {
      const headerAt = this.entry?.localHeaderOffset ?? 0;
      const skip = Math.max(0, headerAt - chunkStart);
      if (skip >= chunk.length) return callback();
      this.header = Buffer.concat([this.header, chunk.subarray(skip)]);
      if (this.header.length < 30) return callback();
      if (this.header.readUInt32LE(0) !== LOCAL_FILE_HEADER) {
        return callback(new ZipProblem(`zip: no local file header at byte ${headerAt}`));
      }
      const headerBytes = 30 + this.header.readUInt16LE(26) + this.header.readUInt16LE(28);
      if (this.header.length < headerBytes) return callback();
      this.dataStart = headerAt + headerBytes;
      if (this.entry) this.dataEnd = this.dataStart + this.entry.compressedBytes;
      this.header = Buffer.alloc(0);
      from = this.dataStart - chunkStart;
    }
    const start = Math.max(from, this.dataStart - chunkStart);
    const end = Math.min(chunk.length, this.dataEnd - chunkStart);
    if (end > start) this.push(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.dataStart < 0) return callback(new ZipProblem('zip: the file ends inside the local file header'));
    if (this.position < this.dataEnd && this.dataEnd !== Infinity) {
      return callback(new ZipProblem('zip: the file ends inside the entry: the zip is truncated'));
    }
    callback();
  }
}
