/**
 * HyperLogLog, to estimate how many distinct users and sessions a file holds in a fixed 16 KiB of memory per
 * count whatever the file's size. Each thread fills its own registers; registers merge by taking the
 * maximum, in any order, so the threads' sketches combine into the file's.
 *
 * With 2^14 registers the relative standard error is 1.04 / sqrt(2^14), about 0.81 %. Hashes are 32 bits,
 * which is ample for the tens of millions of distinct values a month holds (the large-range correction
 * accounts for collisions near 2^32).
 */

/** Bits of the hash that choose a register. */
export const HLL_PRECISION = 14;
const PRECISION = HLL_PRECISION;
/** Registers per sketch. */
export const HLL_REGISTERS = 1 << PRECISION;
/** The sketch's relative standard error. */
export const HLL_RELATIVE_ERROR = 1.04 / Math.sqrt(HLL_REGISTERS);

const TWO_POW_32 = 4294967296;

/** Murmur3's finaliser: spreads the bits of a 32-bit value so that every output bit depends on every input bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Adds a well-mixed 32-bit hash to a sketch's registers. */
export function hllAdd(registers: Uint8Array, hash: number): void {
  const index = hash >>> (32 - PRECISION);
  const rest = (hash << PRECISION) | (1 << (PRECISION - 1)); // the guard bit caps the rank at 32 - PRECISION + 1
  const rank = Math.clz32(rest) + 1;
  if (rank > (registers[index] as number)) registers[index] = rank;
}

/** Merges `from` into `into` (both of {@link HLL_REGISTERS} registers). */
export function hllMerge(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < HLL_REGISTERS; i += 1) {
    const value = from[i] as number;
    if (value > (into[i] as number)) into[i] = value;
  }
}

/** The estimated number of distinct values added to a sketch. */
export function hllEstimate(registers: Uint8Array): number {
  const m = HLL_REGISTERS;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i += 1) {
    const value = registers[i] as number;
    sum += 2 ** -value;
    if (value === 0) zeros += 1;
  }
  const alpha = 0.7213 / (1 + 1.079 / m);
  let estimate = (alpha * m * m) / sum;
  if (estimate <= 2.5 * m && zeros > 0) {
    estimate = m * Math.log(m / zeros); // linear counting is more exact for small counts
  } else if (estimate > TWO_POW_32 / 30) {
    estimate = -TWO_POW_32 * Math.log(1 - estimate / TWO_POW_32);
  }
  return Math.round(estimate);
}
