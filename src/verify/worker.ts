/**
 * The worker thread of the verifier's pool (see `./pool.ts`): runs the tasks it is given one at a time and,
 * when told to finish, sends back its distinct-value sketches.
 */
import { parentPort } from 'node:worker_threads';
import { newSketches } from './scanner';
import { runTask } from './tasks';
import type { FromWorker, ToWorker } from './types';

const port = parentPort;
if (!port) throw new Error('the verify worker runs as a worker thread');

let sketches = newSketches();
// tasks run in the order they come, so that a thread's sketches and its results stay consistent
let queue: Promise<void> = Promise.resolve();

port.on('message', (message: ToWorker) => {
  queue = queue.then(async () => {
    if (message.type === 'finish') {
      // the thread may be taken up by the next verification: its sketches start afresh (these are copied)
      send({ type: 'sketches', sketches });
      sketches = newSketches();
      return;
    }
    try {
      const result = await runTask(message.task, sketches);
      // a chunk's head and tail are views of the chunk, which is handed back, not copied
      const transfer = 'head' in result ? [result.head.buffer as ArrayBuffer] : [];
      send({ type: 'done', id: message.id, result }, transfer);
    } catch (error) {
      send({ type: 'failed', id: message.id, message: error instanceof Error ? error.message : String(error) });
    }
  });
});

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}
