/**
 * The framing of a gzip file of one member around a raw deflate stream (RFC 1952): a fixed 10-byte header,
 * the deflate data, then the CRC-32 and the size of the uncompressed bytes. The generator writes the header,
 * streams the deflate data it shares with the zip (see `./parallel-deflate.ts`), and ends with the trailer.
 */

/**
 * The gzip header: deflate, no flags, no time (0, so the file is the same bytes on every run), XFL 4 for the
 * fastest level (as zlib writes it for level 1), OS 3 (Unix, as zlib writes it on Linux).
 */
export function gzipHeader(): Buffer {
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x04, 0x03]);
}

/**
 * The gzip trailer: the CRC-32 of the uncompressed bytes and their count modulo 2^32 (ISIZE), both
 * little-endian.
 *
 * @param crc32 CRC-32 of the uncompressed bytes
 * @param bytes how many uncompressed bytes there are, any size
 */
export function gzipTrailer(crc32: number, bytes: number): Buffer {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32 >>> 0, 0);
  trailer.writeUInt32LE(bytes % 0x1_0000_0000, 4);
  return trailer;
}
