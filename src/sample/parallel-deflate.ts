/**
 * One raw deflate stream (RFC 1951) made on several cores at once, as pigz makes it. The input is cut into
 * blocks at fixed offsets; each block is deflated on its own, on libuv's threadpool, with a sync flush at its
 * end, so that its output ends on a byte boundary and with no final block, and the outputs are joined in
 * order. An empty final block closes the stream. Each block is primed with the last 32 KiB of the block
 * before it (deflate's whole window), so matches reach across the cuts and the stream is nearly as small as
 * one made in a single pass.
 *
 * The output depends only on the input, the level and the block size: never on timing or on how many blocks
 * run at once. Memory stays bounded: at most `parallel` blocks are deflated at a time, and while they are,
 * {@link ParallelDeflate.write} waits instead of taking in more than the next block.
 */
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

const deflateBlock = promisify(deflateRaw);

/** Deflate's window: the farthest back a match may reach, and so all of a dictionary that can be used. */
const WINDOW_BYTES = 32 * 1024;

/**
 * The end of the stream after blocks that each ended with a sync flush: an empty block with fixed codes and
 * its final bit set (bits 1, 01, then the 7-bit end-of-block code, padded to two bytes).
 */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** How a {@link ParallelDeflate} deflates, and where its output goes. */
export interface ParallelDeflateOptions {
  /** zlib's compression level, 1 (fastest) to 9. */
  level: number;
  /** Bytes of input per block, at least 32 KiB; the last block may be shorter. */
  blockBytes: number;
  /** Blocks deflated at a time, at least 1. */
  parallel: number;
  /**
   * Takes the stream's bytes, in order. The next piece is not handed over before the promise settles, so a
   * slow sink holds back the deflate and, through {@link ParallelDeflate.write}, its caller.
   */
  sink: (data: Buffer) => Promise<void>;
}

/** What a finished stream holds, as a gzip trailer and a zip's records need it. */
export interface DeflateResult {
  /** CRC-32 of the input (the one gzip and zip use). */
  crc32: number;
  /** Bytes of input. */
  bytes: number;
  /** Bytes of the raw deflate stream, the final block included. */
  deflatedBytes: number;
}

/** A raw deflate stream, fed in pieces of any size and deflated block by block on several threads. */
export class ParallelDeflate {
  private readonly level: number;
  private readonly blockBytes: number;
  private readonly parallel: number;
  private readonly sink: (data: Buffer) => Promise<void>;
  /** The block being filled, once there is one. */
  private block: Buffer | undefined;
  private filled = 0;
  /** The block deflated last: its end is the next block's dictionary. */
  private previous: Buffer | undefined;
  /** Blocks being deflated, oldest first, which is the order their output goes out in. */
  private readonly running: Promise<Buffer>[] = [];
  private crc = 0;
  private bytes = 0;
  private deflatedBytes = 0;
  private ended = false;

  /** @throws RangeError for a block shorter than deflate's window or fewer than one block at a time */
  constructor(options: ParallelDeflateOptions) {
    if (!Number.isSafeInteger(options.blockBytes) || options.blockBytes < WINDOW_BYTES) {
      throw new RangeError(`blockBytes must be an integer of at least ${WINDOW_BYTES}: ${options.blockBytes}`);
    }
    if (!Number.isSafeInteger(options.parallel) || options.parallel < 1) {
      throw new RangeError(`parallel must be a positive integer: ${options.parallel}`);
    }
    this.level = options.level;
    this.blockBytes = options.blockBytes;
    this.parallel = options.parallel;
    this.sink = options.sink;
  }

  /**
   * Takes in the next bytes; `data` may be reused once the promise settles. Waits while `parallel` blocks are
   * being deflated and the next one is full.
   *
   * @throws the first failure of a block's deflate or of the sink
   */
  async write(data: Uint8Array): Promise<void> {
    if (this.ended) throw new Error('write after end');
    this.crc = crc32(data, this.crc);
    this.bytes += data.length;
    for (let at = 0; at < data.length;) {
      this.block ??= Buffer.allocUnsafe(this.blockBytes);
      const taken = Math.min(data.length - at, this.blockBytes - this.filled);
      this.block.set(data.subarray(at, at + taken), this.filled);
      this.filled += taken;
      at += taken;
      if (this.filled === this.blockBytes) await this.startBlock();
    }
  }

  /**
   * Deflates what is left, hands the rest of the stream to the sink and ends it with the final block.
   *
   * @throws the first failure of a block's deflate or of the sink
   */
  async end(): Promise<DeflateResult> {
    if (this.ended) throw new Error('end after end');
    this.ended = true;
    await this.startBlock();
    while (this.running.length > 0) await this.emitOldest();
    await this.emit(FINAL_BLOCK);
    return { crc32: this.crc, bytes: this.bytes, deflatedBytes: this.deflatedBytes };
  }

  private async startBlock(): Promise<void> {
    if (!this.block || this.filled === 0) return;
    while (this.running.length >= this.parallel) await this.emitOldest();
    const input = this.block.subarray(0, this.filled);
    const options: ZlibOptions = {
      level: this.level,
      finishFlush: constants.Z_SYNC_FLUSH,
      // room for a whole block's output, so that zlib deflates it in one turn of the threadpool rather than in
      // 16 KiB steps that each wait for the main thread
      chunkSize: this.blockBytes,
    };
    if (this.previous) options.dictionary = this.previous.subarray(-WINDOW_BYTES);
    const job = deflateBlock(input, options);
    // a failure is raised when the block's turn comes; until then it must not count as unhandled
    job.catch(() => undefined);
    this.running.push(job);
    this.previous = input;
    this.block = undefined;
    this.filled = 0;
  }

  private async emitOldest(): Promise<void> {
    const oldest = this.running.shift();
    if (oldest) await this.emit(await oldest);
  }

  private async emit(data: Buffer): Promise<void> {
    this.deflatedBytes += data.length;
    await this.sink(data);
  }
}
