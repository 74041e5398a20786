/**
 * A small seeded pseudo-random generator for the local sample. The sample must be byte-identical for a given
 * seed on every machine and Node version, so it cannot use `Math.random`, and it draws several numbers per row
 * of a multi-gigabyte file, so it must be cheap: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator)
 * needs four 32-bit words of state, a handful of integer operations per draw, and passes PractRand far beyond
 * the few billion draws a sample takes.
 */

const TWO_POW_32 = 0x1_0000_0000;

/** A seeded stream of 32-bit pseudo-random numbers (sfc32). */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(a: number, b: number, c: number, d: number) {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    // the first outputs still show the seed's structure; the reference implementation discards them too
    for (let i = 0; i < 15; i++) this.next();
  }

  /**
   * A generator for one named stream of a seed. Each part of the sample (the catalog, each month) draws from
   * its own stream, so that generating one month more or less never changes the others.
   */
  static from(seed: number, stream: string): Random {
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32) >>> 0;
    const mixer = splitMix32(low ^ Math.imul(high, 0x9e3779b9) ^ hashText(stream));
    return new Random(mixer(), mixer(), mixer(), mixer());
  }

  /** The next number, uniform in 0..2^32-1. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) + t;
    this.c |= 0;
    return t >>> 0;
  }

  /** A number uniform in [0, 1), with 32 bits of resolution (enough for shares and picks). */
  float(): number {
    return this.next() / TWO_POW_32;
  }

  /** An integer uniform in 0..n-1, for n well below 2^32 (the bias is below n / 2^32). */
  below(n: number): number {
    return Math.floor((this.next() / TWO_POW_32) * n);
  }

  /** A standard normal number (Box-Muller); only for building pools, never per row. */
  gaussian(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Shuffles in place (Fisher-Yates) and returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const item = items[i] as T;
      items[i] = items[j] as T;
      items[j] = item;
    }
    return items;
  }
}

/** FNV-1a over UTF-16 code units: enough to turn a stream name into 32 bits of seed. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** SplitMix32, to spread a 32-bit seed over the four words of sfc32's state. */
function splitMix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}
