/**
 * The verifier's threads: a pool of worker threads that run tasks (see `./tasks.ts`), or, for small inputs,
 * the same tasks in the main thread, where starting threads would cost more than the work.
 *
 * A finished pool leaves its threads for the next verification of the process to take up, for a while: a new
 * thread takes some 60 ms to start and its first 100 ms or so to compile the scanner, on every verification
 * (measured), where a thread taken up runs the scanner's compiled code from its first row.
 */
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { hllMerge } from './hyperloglog';
import { newSketches } from './scanner';
import { runTask } from './tasks';
import type { FromWorker, Sketches, TaskResult, ToWorker, VerifyTask } from './types';

/** Runs verify tasks and collects the threads' sketches. */
export interface TaskPool {
  /** Threads that run tasks. */
  readonly threads: number;
  /** Tasks given and not yet done. */
  readonly inFlight: number;
  /** Runs a task; a chunk task's buffer is transferred to the thread, so the caller must not keep it. */
  run(task: VerifyTask): Promise<TaskResult>;
  /**
   * Waits for the tasks in flight, and returns the merged sketches of all threads (which then start afresh); the
   * pool is closed after, its threads left for the next pool.
   */
  finish(): Promise<Sketches>;
  /** Stops at once, dropping what runs (after a failure, or at a fail-fast stop). */
  close(): Promise<void>;
}

/** Runs tasks in the main thread, one at a time. */
export class InlinePool implements TaskPool {
  readonly threads = 1;
  inFlight = 0;
  private readonly sketches = newSketches();
  private last: Promise<unknown> = Promise.resolve();

  run(task: VerifyTask): Promise<TaskResult> {
    this.inFlight += 1;
    const result = this.last.then(() => runTask(task, this.sketches));
    this.last = result.catch(() => undefined);
    return result.finally(() => (this.inFlight -= 1));
  }

  async finish(): Promise<Sketches> {
    await this.last;
    return this.sketches;
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve(result: TaskResult): void;
  reject(error: Error): void;
}

/** Seconds that a finished pool's threads wait to be taken up by another pool before they end. */
const SPARE_SECONDS = 30;
/** Threads left by finished pools, idle, not holding the process; taken up last in, first out. */
const spares: Worker[] = [];
let sparesTimer: NodeJS.Timeout | undefined;
/**
 * The listeners put on each thread, to be taken off when it changes hands: its others are Node's own (which keep
 * its messages flowing), and stay.
 */
const listeners = new WeakMap<Worker, [string, (value: never) => void][]>();

type Listener = (value: unknown) => void;

function listen(worker: Worker, event: 'message', listener: (message: FromWorker) => void): void;
function listen(worker: Worker, event: 'error', listener: (error: Error) => void): void;
function listen(worker: Worker, event: 'exit', listener: () => void): void;
function listen(worker: Worker, event: string, listener: (value: never) => void): void {
  worker.on(event, listener as Listener);
  const own = listeners.get(worker) ?? [];
  own.push([event, listener]);
  listeners.set(worker, own);
}

function unlisten(worker: Worker): void {
  for (const [event, listener] of listeners.get(worker) ?? []) worker.off(event, listener as Listener);
  listeners.delete(worker);
}

/** A thread for a pool: a spare one, or a new one. */
function takeWorker(): Worker {
  const spare = spares.pop();
  if (spare) {
    unlisten(spare);
    spare.ref();
    return spare;
  }
  return new Worker(workerBootstrap(), { eval: true });
}

/** Leaves a finished pool's threads for the next pool, up to one per core; the others end. */
function leaveWorkers(workers: Worker[]): void {
  for (const worker of workers) {
    unlisten(worker);
    worker.unref();
    if (spares.length >= os.availableParallelism()) {
      void worker.terminate();
      continue;
    }
    // a spare that fails or ends is dropped
    const drop = () => {
      const at = spares.indexOf(worker);
      if (at >= 0) spares.splice(at, 1);
    };
    listen(worker, 'error', drop);
    listen(worker, 'exit', drop);
    spares.push(worker);
  }
  clearTimeout(sparesTimer);
  sparesTimer = setTimeout(() => {
    for (const worker of spares.splice(0)) void worker.terminate();
  }, SPARE_SECONDS * 1000);
  sparesTimer.unref();
}

/** A fixed number of worker threads; each task goes to the thread with the fewest in flight. */
export class ThreadPool implements TaskPool {
  readonly threads: number;
  private readonly workers: { worker: Worker; inFlight: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(threads: number) {
    this.threads = threads;
    for (let i = 0; i < threads; i += 1) {
      const worker = takeWorker();
      const slot = { worker, inFlight: 0 };
      listen(worker, 'message', (message: FromWorker) => {
        if (message.type === 'sketches') return; // taken by finish()
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        slot.inFlight -= 1;
        if (message.type === 'done') pending?.resolve(message.result);
        else pending?.reject(new Error(message.message));
      });
      listen(worker, 'error', (error: Error) => this.fail(error));
      this.workers.push(slot);
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  run(task: VerifyTask): Promise<TaskResult> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.workers.reduce((best, candidate) => (candidate.inFlight < best.inFlight ? candidate : best));
    const id = this.nextId++;
    slot.inFlight += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const message: ToWorker = { type: 'task', id, task };
      slot.worker.postMessage(message, task.type === 'chunk' ? [task.buffer] : []);
    });
  }

  async finish(): Promise<Sketches> {
    const merged = newSketches();
    const all = this.workers.map(
      ({ worker }) =>
        new Promise<Sketches>((resolve, reject) => {
          listen(worker, 'message', (message: FromWorker) => {
            if (message.type === 'sketches') resolve(message.sketches);
          });
          listen(worker, 'error', reject);
          const finish: ToWorker = { type: 'finish' };
          worker.postMessage(finish);
        }),
    );
    let sketches: Sketches[];
    try {
      sketches = await Promise.all(all);
    } catch (error) {
      // the threads end on their own time, without holding the process: waiting for them added 25 to 30 ms to
      // every verification, for nothing
      for (const { worker } of this.workers) worker.unref();
      void this.close();
      throw error;
    }
    for (const thread of sketches) {
      hllMerge(merged.users, thread.users);
      hllMerge(merged.sessions, thread.sessions);
    }
    if (this.failure) void this.close();
    else leaveWorkers(this.workers.map(({ worker }) => worker));
    return merged;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * The worker's entry, as code to evaluate: the sources are TypeScript run through tsx, whose loader a worker
 * thread does not inherit from a programmatic registration (as `bin/coleta.js` does), so the worker
 * registers it itself before loading its module.
 */
function workerBootstrap(): string {
  const extension = path.extname(__filename);
  const entry = path.join(__dirname, `worker${extension}`);
  const loader = extension === '.ts' ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});\n` : '';
  return `${loader}require(${JSON.stringify(entry)});\n`;
}
