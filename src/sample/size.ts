/**
 * Byte sizes as people write them in configuration (`2MiB`, `5MB`, `1.5GiB`), parsed once at the edge into
 * a number of bytes. Decimal units are powers of 1000 and binary ones powers of 1024, as in IEC 80000-13, so
 * that `5MB` means what a storage bill means by it and `2MiB` what a file system shows.
 */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

const SIZE_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/;

/**
 * Parses a byte size: a number, optionally with a unit among B, kB (or KB), MB, GB, TB (powers of 1000) and
 * KiB, MiB, GiB, TiB (powers of 1024), such as `1048576`, `500kB`, `5MB`, `2MiB`, `1.5GiB`. Fractions are
 * allowed when the result is a whole number of bytes.
 *
 * @throws Error naming the text when it is not such a size
 */
export function parseByteSize(text: string): number {
  const match = SIZE_PATTERN.exec(text);
  const unit = match ? UNITS[match[2] as string] : undefined;
  if (!match || unit === undefined) {
    throw new Error(`not a byte size: ${JSON.stringify(text)} (expected a number and a unit such as 2MiB, 5MB or 1GB)`);
  }
  const exact = Number(match[1]) * unit;
  const bytes = Math.round(exact);
  // decimal fractions are inexact in binary (1.1 * 1e6 is 1100000.0000000002): allow that much, no more
  if (!Number.isSafeInteger(bytes) || Math.abs(exact - bytes) > 1e-9 * Math.max(1, exact)) {
    throw new Error(`not a whole number of bytes within range: ${JSON.stringify(text)}`);
  }
  return bytes;
}
