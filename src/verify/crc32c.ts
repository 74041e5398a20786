/**
 * CRC32C (Castagnoli), as Cloud Storage computes it for every object, and the combination of two CRCs into
 * the CRC of the concatenated bytes. The combination is what lets byte ranges be checksummed in parallel:
 * each range's CRC is computed on its own and the whole object's follows from them and the ranges' lengths,
 * without reading a byte again.
 *
 * The combination is zlib's `crc32_combine` (GF(2) matrices: appending n zero bytes to a message is a linear
 * map on its CRC, obtained by repeated squaring of the one-zero-bit operator), with the reflected Castagnoli
 * polynomial in place of zlib's.
 */
import { crc32c } from '@node-rs/crc32';

export { crc32c };

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;

/**
 * `ZERO_OPERATORS[k]` maps a CRC to the CRC of the same message followed by 2^k zero bytes. Computed once,
 * lazily: 64 matrices of 32 words cover any length below 2^64 bytes.
 */
let zeroOperators: Uint32Array[] | undefined;

function times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0; vector !== 0; i += 1, vector >>>= 1) {
    if (vector & 1) sum ^= matrix[i] as number;
  }
  return sum >>> 0;
}

function square(matrix: Uint32Array): Uint32Array {
  const result = new Uint32Array(32);
  for (let n = 0; n < 32; n += 1) result[n] = times(matrix, matrix[n] as number);
  return result;
}

function operators(): Uint32Array[] {
  if (zeroOperators) return zeroOperators;
  // the operator for one zero bit: shift right, and fold in the polynomial when the low bit falls off
  const oneBit = new Uint32Array(32);
  oneBit[0] = POLYNOMIAL;
  for (let n = 1; n < 32; n += 1) oneBit[n] = (1 << (n - 1)) >>> 0;
  let operator = square(square(square(oneBit))); // 8 zero bits: one zero byte
  const all: Uint32Array[] = [];
  for (let k = 0; k < 64; k += 1) {
    all.push(operator);
    operator = square(operator);
  }
  zeroOperators = all;
  return all;
}

/**
 * The CRC32C of `A + B` from the CRC32C of `A`, the CRC32C of `B` and the length of `B` in bytes.
 *
 * @param crc1 CRC32C of the first part (an unsigned 32-bit value)
 * @param crc2 CRC32C of the second part
 * @param length2 bytes of the second part: a non-negative safe integer
 */
export function crc32cCombine(crc1: number, crc2: number, length2: number): number {
  if (!Number.isSafeInteger(length2) || length2 < 0) throw new RangeError(`bad length ${length2}`);
  const all = operators();
  let crc = crc1 >>> 0;
  // lengths above 2^32 cannot use bit operators, so the bits are peeled off by division
  for (let k = 0, rest = length2; rest > 0; k += 1, rest = Math.floor(rest / 2)) {
    if (rest % 2 === 1) crc = times(all[k] as Uint32Array, crc);
  }
  return (crc ^ crc2) >>> 0;
}

/** A CRC32C in Cloud Storage's form: base64 of its 4 big-endian bytes. */
export function crc32cBase64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}
