/**
 * The verifier's threads: a pool of worker threads that run tasks (see `./tasks.ts`), or, for small inputs,
 * the same tasks in the main thread, where starting threads would cost more than the work.
 */
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
  /** Waits for the tasks in flight, and returns the merged sketches of all threads; the pool is closed after. */
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
      const worker = new Worker(workerBootstrap(), { eval: true });
      const slot = { worker, inFlight: 0 };
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'sketches') return; // taken by finish()
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        slot.inFlight -= 1;
        if (message.type === 'done') pending?.resolve(message.result);
        else pending?.reject(new Error(message.message));
      });
      worker.on('error', (error: Error) => this.fail(error));
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
          worker.on('message', (message: FromWorker) => {
            if (message.type === 'sketches') resolve(message.sketches);
          });
          worker.once('error', reject);
          const finish: ToWorker = { type: 'finish' };
          worker.postMessage(finish);
        }),
    );
    try {
      for (const sketches of await Promise.all(all)) {
        hllMerge(merged.users, sketches.users);
        hllMerge(merged.sessions, sketches.sessions);
      }
      return merged;
    } finally {
      // the threads end on their own time, without holding the process: waiting for them added 25 to 30 ms to
      // every verification, for nothing
      for (const { worker } of this.workers) worker.unref();
      void this.close();
    }
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
