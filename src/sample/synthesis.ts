/**
 * Row synthesis on a worker thread, seen from the main thread. Months are asked for one at a time; the worker
 * writes each month's CSV file itself and hands its bytes over, chunk by chunk, for the files made from it.
 * The worker stays a bounded number of chunks ahead: each chunk taken in gives it credit for one more, so
 * memory stays bounded when the deflate is slower than synthesis. Each chunk is a fresh buffer, transferred
 * rather than copied.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** What the worker is started with. */
export interface SynthesisSetup {
  seed: number;
  chunkBytes: number;
}

/** Messages to the worker: start a month with some credit, or one more chunk of credit. */
export type SynthesisRequest =
  { type: 'month'; month: string; bytes: number; file: string; credit: number } | { type: 'credit' };

/** Messages from the worker: a chunk of the month, or its end. */
export type SynthesisReply = { type: 'chunk'; buffer: ArrayBuffer; length: number } | ({ type: 'end' } & MonthEnd);

/** The end of a month's CSV: its data rows, its size and its checksums (as in the manifest). */
export interface MonthEnd {
  rows: number;
  bytes: number;
  md5: string;
  crc32c: string;
}

/** A worker thread that synthesises the months of one seed, chunk by chunk. */
export class RowSynthesis {
  private readonly worker: Worker;
  private readonly ahead: number;
  private readonly replies: SynthesisReply[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private closing = false;

  /**
   * @param seed the sample's seed
   * @param chunkBytes size of each chunk's buffer (a chunk holds whole rows, so it is a little shorter)
   * @param ahead how many chunks the worker may have ready before they are taken in
   */
  constructor(seed: number, chunkBytes: number, ahead: number) {
    this.ahead = ahead;
    const setup: SynthesisSetup = { seed, chunkBytes };
    this.worker = new Worker(workerBootstrap(), { eval: true, workerData: setup });
    this.worker.on('message', (reply: SynthesisReply) => {
      this.replies.push(reply);
      this.wake?.();
    });
    this.worker.on('error', (error: Error) => this.fail(error));
    this.worker.on('exit', (code: number) => {
      if (!this.closing) this.fail(new Error(`the synthesis worker exited early (code ${code})`));
    });
  }

  /**
   * Starts a month: the worker writes its CSV to `file` (replacing it), and its chunks come from
   * {@link RowSynthesis.next}.
   */
  startMonth(month: string, bytes: number, file: string): void {
    this.post({ type: 'month', month, bytes, file, credit: this.ahead });
  }

  /**
   * The next chunk of the current month, or the month's end once all have been taken.
   *
   * @param signal gives up waiting when aborted, with its reason
   */
  async next(signal?: AbortSignal): Promise<Buffer | MonthEnd> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.failure) throw this.failure;
      const reply = this.replies.shift();
      if (reply?.type === 'chunk') return Buffer.from(reply.buffer, 0, reply.length);
      if (reply?.type === 'end') return { rows: reply.rows, bytes: reply.bytes, md5: reply.md5, crc32c: reply.crc32c };
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Gives the worker credit for one more chunk: call it once a chunk has been taken in. */
  credit(): void {
    this.post({ type: 'credit' });
  }

  /** Stops the worker; once stopped, it writes nothing more. Calling it again does nothing. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.worker.terminate();
  }

  private post(request: SynthesisRequest): void {
    this.worker.postMessage(request);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake?.();
  }
}

/**
 * The worker's entry, as code to evaluate: the sources are TypeScript run through tsx, whose loader a worker
 * thread does not inherit from a programmatic registration (as `bin/coleta.js` does), so the worker
 * registers it itself before loading its module.
 */
function workerBootstrap(): string {
  const extension = path.extname(__filename);
  const entry = path.join(__dirname, `synthesis-worker${extension}`);
  const loader = extension === '.ts' ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});\n` : '';
  return `${loader}require(${JSON.stringify(entry)});\n`;
}
