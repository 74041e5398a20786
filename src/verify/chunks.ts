/**
 * The main thread's side of chunk tasks (see `./tasks.ts`): it fills chunks with the CSV as it comes, cut at
 * any byte, hands each to the thread pool, and joins the results in file order as they come back.
 *
 * The main thread never looks for line ends: each worker scans its chunk's whole lines and hands back the bytes
 * before the first line end and after the last. The line that a cut splits is made of one chunk's tail and the
 * next chunk's head (and whole chunks between them, for a line longer than a chunk), and is scanned here, in
 * the order of the file, as a block of its own. So the thread that reads and hashes the input does little more
 * than that, and the blocks merge as any others (see `./merge.ts`).
 */
import { crc32cCombine } from './crc32c';
import type { TaskPool } from './pool';
import { BlockScanner } from './scanner';
import type { BlockResult, ChunkResult, Sketches } from './types';

/** Chunks handed out and not yet joined, per thread: enough to keep threads busy, few enough to bound memory. */
const CHUNKS_IN_FLIGHT_PER_THREAD = 2;
/**
 * Bytes handed out and not yet joined that are allowed whatever the threads: enough for the reading thread to run
 * ahead while a thread starts or falls behind for a moment (measured with MD5 on 1 GiB with one validating
 * thread, second verifications of a process: 535-604 MB/s with 8 MiB in flight, 612-623 with 32).
 */
const BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/** Options of a {@link ChunkDispatcher}. */
export interface ChunkOptions {
  /** Bytes of a chunk. */
  chunkBytes: number;
  /** Whether the chunks are the input's own bytes, whose CRC32C the workers then compute. */
  crc32c: boolean;
  failFast: boolean;
  /** Distinct-value sketches for the lines joined in the main thread. */
  sketches: Sketches;
}

/** What the chunks held, once all are joined. */
export interface Chunked {
  /** The blocks in file order: the chunks' and the joined lines'. */
  blocks: BlockResult[];
  /** Chunks handed out. */
  chunks: number;
  /** The CRC32C of all the chunks' bytes, when the workers computed it. */
  crc32c: number;
}

/** Fills chunks, hands them out, and joins their results; see the module comment. */
export class ChunkDispatcher {
  private readonly pool: TaskPool;
  private readonly options: ChunkOptions;
  private readonly maxInFlight: number;
  /** The chunk being filled, and how much of it is. */
  private current: Uint8Array | null = null;
  /**
   * Chunks handed back by the threads, to be filled again: a chunk filled for the first time costs the system a
   * fault and a page of zeros every 4 KiB (measured: 0.35 ms per MiB, a fifth of the reading thread's work).
   */
  private readonly spare: ArrayBuffer[] = [];
  private filledBytes = 0;
  /** Joins not yet done, oldest first; each waits for the one before. */
  private readonly window: Promise<void>[] = [];
  private joined: Promise<void> = Promise.resolve();
  private chunks = 0;
  private readonly blocks: BlockResult[] = [];
  private crc = 0;
  /** The scanner of the line that spans the chunks joined so far, if one is open. */
  private joiner: BlockScanner | null = null;
  /** Whether a line has ended yet (the first line is the header). */
  private lineEnded = false;
  private stop = false;

  constructor(pool: TaskPool, options: ChunkOptions) {
    this.pool = pool;
    this.options = options;
    this.maxInFlight = Math.max(
      CHUNKS_IN_FLIGHT_PER_THREAD * pool.threads,
      Math.ceil(BYTES_IN_FLIGHT / options.chunkBytes),
    );
  }

  /** Whether no byte has come yet. */
  get empty(): boolean {
    return this.chunks === 0 && this.filledBytes === 0;
  }

  /** Whether a block stopped at a violation (fail-fast): nothing more needs reading. */
  get stopped(): boolean {
    return this.stop;
  }

  /** The free part of the chunk being filled, to read into; {@link filled} then says how much was. */
  space(): Uint8Array {
    if (!this.current) {
      const spare = this.spare.pop();
      this.current = spare ? new Uint8Array(spare) : new Uint8Array(this.options.chunkBytes);
      this.filledBytes = 0;
    }
    return this.current.subarray(this.filledBytes);
  }

  /** Counts `bytes` of {@link space} as filled, and hands the chunk out once full. */
  async filled(bytes: number): Promise<void> {
    this.filledBytes += bytes;
    if (this.current && this.filledBytes === this.current.length) await this.send();
  }

  /** Copies bytes into chunks, handing out each chunk as it fills. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let from = 0; from < bytes.length;) {
      const space = this.space();
      const length = Math.min(space.length, bytes.length - from);
      space.set(bytes.subarray(from, from + length));
      from += length;
      await this.filled(length);
    }
  }

  /**
   * Hands out the last chunk and joins everything. With `dropLastLine` (the input broke off), a line left open
   * at the end is dropped rather than scanned, since the break may have cut it.
   */
  async finish(dropLastLine = false): Promise<Chunked> {
    if (this.current && this.filledBytes > 0) await this.send();
    this.current = null;
    await this.joined;
    if (this.joiner && !dropLastLine) this.pushBlock(this.joiner.finish());
    this.joiner = null;
    return { blocks: this.blocks, chunks: this.chunks, crc32c: this.crc >>> 0 };
  }

  /** Hands the chunk being filled to the pool, once fewer than the most allowed are in flight. */
  private async send(): Promise<void> {
    const chunk = this.current as Uint8Array;
    const length = this.filledBytes;
    this.current = null;
    while (this.window.length >= this.maxInFlight) await this.window.shift();
    const index = this.chunks++;
    const task = this.pool.run({
      type: 'chunk',
      index,
      buffer: chunk.buffer as ArrayBuffer,
      length,
      crc32c: this.options.crc32c,
      failFast: this.options.failFast,
    });
    const before = this.joined;
    this.joined = (async () => {
      const [result] = await Promise.all([task, before]);
      this.join(result as ChunkResult, index, length);
    })();
    // a failure is seen by whoever waits for it next (send or finish); this keeps it from going unobserved
    this.joined.catch(() => undefined);
    this.window.push(this.joined);
  }

  /** Joins a chunk's result, in file order. */
  private join(result: ChunkResult, index: number, length: number): void {
    if (this.options.crc32c) this.crc = index === 0 ? result.crc32c : crc32cCombine(this.crc, result.crc32c, length);
    // the head ends the line left open by the chunks before (or, without a line end, goes on with it)
    if (result.head.length > 0) {
      this.openJoiner().feed(Buffer.from(result.head.buffer, result.head.byteOffset, result.head.length));
      if (result.newline) {
        this.pushBlock((this.joiner as BlockScanner).finish());
        this.joiner = null;
      }
    }
    this.pushBlock(result.block);
    if (result.tail.length > 0) {
      this.openJoiner().feed(Buffer.from(result.tail.buffer, result.tail.byteOffset, result.tail.length));
    }
    // the scanner keeps a copy of what it carries over, so the chunk can be filled again
    const buffer = result.head.buffer as ArrayBuffer;
    if (buffer.byteLength === this.options.chunkBytes && this.spare.length < this.maxInFlight) this.spare.push(buffer);
  }

  private openJoiner(): BlockScanner {
    // one line a chunk: not worth the compiling of the fast path in this thread
    this.joiner ??= new BlockScanner(this.blocks.length, this.options.sketches, {
      first: !this.lineEnded,
      failFast: this.options.failFast,
      fastPath: false,
    });
    return this.joiner;
  }

  private pushBlock(block: BlockResult): void {
    this.blocks.push(block);
    if (block.lines > 0) this.lineEnded = true;
    if (block.stopped) this.stop = true;
  }
}
