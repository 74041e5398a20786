/**
 * The worker thread of {@link RowSynthesis} (see `./synthesis.ts`). For one month at a time it synthesises
 * the CSV into fresh buffers, hashes and writes each to the CSV file, and transfers it to the main thread for
 * the gzip and the zip, as far ahead as the main thread's credit allows.
 *
 * The CSV is written here, synchronously, because this thread has nothing else to wait for: the page cache
 * takes a chunk in a fraction of a millisecond, and the main thread is left with the deflate, whose blocks
 * each need a turn of its event loop to be started, and then written out and hashed.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { MONTHS } from '../dataset/schema.js';
import { Catalog } from './catalog.js';
import { Digest } from './digest.js';
import { MonthRows } from './rows.js';
import { type SynthesisReply, type SynthesisRequest, type SynthesisSetup } from './synthesis.js';

const port = parentPort;
if (!port) throw new Error('synthesis-worker runs as a worker thread');

const setup = workerData as SynthesisSetup;
const catalog = Catalog.build(setup.seed);

/** The month being written, if any. */
let current: { rows: MonthRows; file: number; digest: Digest } | undefined;
let credit = 0;

port.on('message', (request: SynthesisRequest) => {
  if (request.type === 'month') {
    const month = MONTHS.find((candidate) => candidate.name === request.month);
    if (!month) throw new Error(`unknown month ${request.month}`);
    current = {
      rows: new MonthRows(catalog, month, setup.seed, request.bytes),
      file: openSync(request.file, 'w'),
      digest: new Digest(),
    };
    credit = request.credit;
  } else if (current) {
    credit += 1;
  }
  produce();
});

function produce(): void {
  while (current && credit > 0) {
    const buffer = new ArrayBuffer(setup.chunkBytes);
    const length = current.rows.fill(new Uint8Array(buffer));
    if (length === 0) {
      closeSync(current.file);
      send({ type: 'end', rows: current.rows.rows, ...current.digest.result() });
      current = undefined;
      return;
    }
    const chunk = new Uint8Array(buffer, 0, length);
    current.digest.update(chunk);
    for (let written = 0; written < length;) written += writeSync(current.file, chunk, written);
    send({ type: 'chunk', buffer, length }, [buffer]);
    credit -= 1;
  }
}

function send(reply: SynthesisReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(reply, transfer);
}
