/**
 * Transfer operations: the runs of a transfer job, and the copying they do. A run fetches the job's URL list,
 * copies each URL into the sink bucket through the Cloud Storage API (streamed, a bounded number at once),
 * checks sizes and MD5s, and keeps its counters and error breakdowns as the service does. Its state is saved
 * with the jobs; an operation found running when the emulator starts ends FAILED with the reason, never
 * IN_PROGRESS forever.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Storage } from '@google-cloud/storage';
import { ServiceError } from './errors';
import type { FaultTable } from './faults';
import { now, type Timestamp, type TransferJob, type TransferSpec } from './jobs';
import type { StateStore } from './store';
import { objectNameFor, parseUrlList, UrlListError, type UrlListEntry } from './url-list';

/** The statuses of an operation. */
export type OperationStatus = 'QUEUED' | 'IN_PROGRESS' | 'PAUSED' | 'SUCCESS' | 'FAILED' | 'ABORTED';

/** The counters, int64 as decimal strings as the API sends them. */
export type Counters = Partial<
  Record<
    | 'objectsFoundFromSource'
    | 'bytesFoundFromSource'
    | 'objectsCopiedToSink'
    | 'bytesCopiedToSink'
    | 'objectsFromSourceFailed'
    | 'bytesFromSourceFailed'
    | 'objectsFromSourceSkippedBySync'
    | 'bytesFromSourceSkippedBySync',
    string
  >
>;

/** `google.storagetransfer.v1.ErrorSummary`. */
export interface ErrorSummary {
  errorCode: string;
  errorCount: string;
  errorLogEntries: { url: string; errorDetails: string[] }[];
}

/** `google.storagetransfer.v1.TransferOperation`, with the operation's error when it failed. */
export interface TransferOperation {
  name: string;
  projectId: string;
  transferSpec: TransferSpec;
  notificationConfig?: TransferJob['notificationConfig'];
  startTime: Timestamp;
  endTime?: Timestamp;
  status: OperationStatus;
  counters: Counters;
  errorBreakdowns: ErrorSummary[];
  transferJobName: string;
  /** The `google.rpc.Status` of a failed operation. */
  error?: { code: number; message: string };
}

const ACTIVE: ReadonlySet<OperationStatus> = new Set(['QUEUED', 'IN_PROGRESS', 'PAUSED']);
const MAX_LOG_ENTRIES = 5;
const RPC_CODES: Record<string, number> = {
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  INVALID_ARGUMENT: 3,
  DATA_LOSS: 15,
  UNAVAILABLE: 14,
  UNKNOWN: 2,
};

/** One object that could not be copied, with the code the service reports for it. */
class ObjectFailure extends Error {
  constructor(
    readonly code: keyof typeof RPC_CODES,
    message: string,
  ) {
    super(message);
  }
}

/** Settings of the copying. */
export interface TransferSettings {
  /** The Cloud Storage API the sink is written through. */
  storage: Storage;
  /** Faults in force (byte-rate limit, failing objects, missing permissions). */
  faults: FaultTable;
  /** The transfer service agent of a project, named in permission errors. */
  serviceAgent: (projectId: string) => string;
  /** Objects copied at once. */
  concurrency: number;
  /** Tries to fetch a URL's bytes, resuming with Range after a dropped connection. */
  fetchAttempts: number;
}

/** A running operation's controls. */
interface Running {
  abort: AbortController;
  paused: boolean;
  resume?: () => void;
}

/** The operations of every job, and the copying behind them. */
export class Operations {
  private readonly running = new Map<string, Running>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly settings: TransferSettings,
    private readonly clock: () => number = Date.now,
  ) {
    // Operations cut off by a restart carry on, as the service's own do: copying starts over from the URL
    // list (objects already in the sink are then compared under the job's overwriteWhen), and a paused one
    // stays paused.
    for (const operation of Object.values(store.state.operations)) {
      if (ACTIVE.has(operation.status)) this.resumeAfterRestart(operation);
    }
  }

  private resumeAfterRestart(operation: TransferOperation): void {
    const paused = operation.status === 'PAUSED';
    operation.counters = {};
    operation.errorBreakdowns = [];
    const controls: Running = { abort: new AbortController(), paused };
    this.running.set(operation.name, controls);
    void this.run(operation, controls);
  }

  /** Starts a run of `job`; refuses while another run of it is active. */
  start(job: TransferJob): TransferOperation {
    const jobName = job.name as string;
    const active = Object.values(this.store.state.operations).find(
      (operation) => operation.transferJobName === jobName && ACTIVE.has(operation.status),
    );
    if (active) {
      throw new ServiceError('FAILED_PRECONDITION', `${jobName} already has an active operation: ${active.name}`);
    }
    const runs = (this.store.state.runs[jobName] ?? 0) + 1;
    this.store.state.runs[jobName] = runs;
    const operation: TransferOperation = {
      name: `transferOperations/${jobName.replace('/', '-')}-${runs}`,
      projectId: job.projectId as string,
      transferSpec: job.transferSpec as TransferSpec,
      ...(job.notificationConfig ? { notificationConfig: job.notificationConfig } : {}),
      startTime: now(this.clock),
      status: 'QUEUED',
      counters: {},
      errorBreakdowns: [],
      transferJobName: jobName,
    };
    this.store.state.operations[operation.name] = operation;
    this.store.save();
    const controls: Running = { abort: new AbortController(), paused: false };
    this.running.set(operation.name, controls);
    void this.run(operation, controls);
    return operation;
  }

  /** An operation by name. */
  get(name: string | undefined): TransferOperation {
    const operation = name ? this.store.state.operations[name] : undefined;
    if (!operation) throw new ServiceError('NOT_FOUND', `operation ${name ?? ''} does not exist`);
    return operation;
  }

  /** All operations, newest first. */
  all(): TransferOperation[] {
    return Object.values(this.store.state.operations).sort(
      (a, b) => Number(b.startTime.seconds) - Number(a.startTime.seconds) || (a.name < b.name ? 1 : -1),
    );
  }

  /** Cancels an active operation; it ends ABORTED once its objects in flight stop. */
  cancel(name: string | undefined): void {
    const operation = this.get(name);
    if (!ACTIVE.has(operation.status)) {
      throw new ServiceError('FAILED_PRECONDITION', `${operation.name} has already ended (${operation.status})`);
    }
    const controls = this.running.get(operation.name);
    if (controls) {
      controls.abort.abort();
      controls.resume?.();
    } else {
      this.finish(operation, 'ABORTED');
    }
  }

  /** Pauses an operation in progress: objects in flight finish, no new one starts. */
  pause(name: string | undefined): void {
    const operation = this.get(name);
    const controls = this.running.get(operation.name);
    if (operation.status !== 'IN_PROGRESS' || !controls) {
      throw new ServiceError('FAILED_PRECONDITION', `${operation.name} is ${operation.status}, not IN_PROGRESS`);
    }
    controls.paused = true;
    operation.status = 'PAUSED';
    this.store.save();
  }

  /** Resumes a paused operation. */
  resume(name: string | undefined): void {
    const operation = this.get(name);
    const controls = this.running.get(operation.name);
    if (operation.status !== 'PAUSED' || !controls) {
      throw new ServiceError('FAILED_PRECONDITION', `${operation.name} is ${operation.status}, not PAUSED`);
    }
    controls.paused = false;
    operation.status = 'IN_PROGRESS';
    this.store.save();
    controls.resume?.();
  }

  /** Stops every running operation (when the emulator closes); they carry on at the next start. */
  async close(): Promise<void> {
    clearTimeout(this.saveTimer);
    for (const controls of this.running.values()) controls.abort.abort('closing');
    this.store.save();
  }

  private async run(operation: TransferOperation, controls: Running): Promise<void> {
    operation.status = controls.paused ? 'PAUSED' : 'IN_PROGRESS';
    this.store.save();
    const { httpDataSource, gcsDataSink, transferOptions } = operation.transferSpec;
    let entries: UrlListEntry[];
    try {
      const response = await fetch(httpDataSource?.listUrl as string, { signal: controls.abort.signal });
      if (!response.ok) throw new UrlListError(`fetching the URL list answered HTTP ${response.status}`);
      entries = parseUrlList(await response.text());
    } catch (error) {
      if (controls.abort.signal.aborted) return this.end(operation, controls);
      const message = error instanceof UrlListError ? error.message : `fetching the URL list failed: ${String(error)}`;
      this.recordFailure(operation, httpDataSource?.listUrl as string, 'INVALID_ARGUMENT', `URL list: ${message}`);
      return this.end(operation, controls);
    }

    add(operation.counters, 'objectsFoundFromSource', entries.length);
    add(
      operation.counters,
      'bytesFoundFromSource',
      entries.reduce((sum, entry) => sum + (entry.size ?? 0), 0),
    );
    this.saveSoon();

    const bucket = this.settings.storage.bucket(gcsDataSink?.bucketName as string);
    const overwrite = transferOptions?.overwriteWhen ?? 'DIFFERENT';
    let next = 0;
    const worker = async () => {
      while (next < entries.length && !controls.abort.signal.aborted) {
        await this.whilePaused(controls);
        if (controls.abort.signal.aborted) break;
        const entry = entries[next++] as UrlListEntry;
        await this.copyOne(
          operation,
          controls,
          bucket,
          entry,
          objectNameFor(entry.url, gcsDataSink?.path ?? ''),
          overwrite,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.settings.concurrency, entries.length)) }, worker));
    this.end(operation, controls);
  }

  private async copyOne(
    operation: TransferOperation,
    controls: Running,
    bucket: ReturnType<Storage['bucket']>,
    entry: UrlListEntry,
    objectName: string,
    overwrite: string,
  ): Promise<void> {
    const file = bucket.file(objectName);
    const injected = this.settings.faults.objectFailure(entry.url);
    const denied = this.settings.faults.missing(bucket.name).includes('storage.objects.create');
    if (injected || denied) {
      const failure = injected ?? {
        code: 'PERMISSION_DENIED',
        message:
          `${this.settings.serviceAgent(operation.projectId)} does not have storage.objects.create access to the ` +
          `Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).`,
      };
      add(operation.counters, 'objectsFromSourceFailed', 1);
      add(operation.counters, 'bytesFromSourceFailed', entry.size ?? 0);
      this.recordFailure(operation, entry.url, failure.code, failure.message);
      this.saveSoon();
      return;
    }
    if (overwrite !== 'ALWAYS') {
      const [exists] = await file.exists();
      if (exists) {
        const [metadata] = await file.getMetadata();
        const same =
          (entry.size === undefined || Number(metadata.size) === entry.size) &&
          (entry.md5 === undefined || metadata.md5Hash === entry.md5);
        if (overwrite === 'NEVER' || same) {
          add(operation.counters, 'objectsFromSourceSkippedBySync', 1);
          add(operation.counters, 'bytesFromSourceSkippedBySync', Number(metadata.size));
          this.saveSoon();
          return;
        }
      }
    }

    let copied = 0;
    try {
      const hash = createHash('md5');
      const counting = new Transform({
        transform: (chunk: Buffer, _encoding, callback) => {
          this.settings.faults.throttle(chunk.length).then(() => {
            hash.update(chunk);
            copied += chunk.length;
            add(operation.counters, 'bytesCopiedToSink', chunk.length);
            this.saveSoon();
            callback(null, chunk);
          }, callback);
        },
      });
      const source = Readable.from(this.fetchBytes(entry, controls.abort.signal));
      await pipeline(source, counting, file.createWriteStream({ resumable: false, validation: false }), {
        signal: controls.abort.signal,
      });
      if (entry.size !== undefined && copied !== entry.size) {
        throw new ObjectFailure(
          'FAILED_PRECONDITION',
          `the URL list gives ${entry.size} bytes, the source sent ${copied}`,
        );
      }
      const md5 = hash.digest('base64');
      if (entry.md5 !== undefined && md5 !== entry.md5) {
        throw new ObjectFailure(
          'DATA_LOSS',
          `MD5 ${md5} of the bytes received differs from ${entry.md5} in the URL list`,
        );
      }
      add(operation.counters, 'objectsCopiedToSink', 1);
    } catch (error) {
      add(operation.counters, 'bytesCopiedToSink', -copied);
      await file.delete({ ignoreNotFound: true }).catch(() => undefined);
      if (controls.abort.signal.aborted) return;
      const failure = error instanceof ObjectFailure ? error : new ObjectFailure('UNKNOWN', String(error));
      add(operation.counters, 'objectsFromSourceFailed', 1);
      add(operation.counters, 'bytesFromSourceFailed', entry.size ?? copied);
      this.recordFailure(operation, entry.url, failure.code, failure.message);
    }
    this.saveSoon();
  }

  /** The bytes at a URL, resuming with Range where a connection drops. */
  private async *fetchBytes(entry: UrlListEntry, signal: AbortSignal): AsyncGenerator<Buffer> {
    let received = 0;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = received > 0 ? { range: `bytes=${received}-` } : {};
      let response: Response;
      try {
        response = await fetch(entry.url, { headers, signal });
      } catch (error) {
        if (signal.aborted || attempt >= this.settings.fetchAttempts) {
          throw new ObjectFailure('UNAVAILABLE', `the source did not answer: ${String(error)}`);
        }
        continue;
      }
      if (received > 0 && response.status === 416 && response.headers.get('content-range') === `bytes */${received}`) {
        // Every byte had come before the connection dropped: nothing is left to fetch.
        await response.body?.cancel();
        return;
      }
      if (received > 0 && response.status !== 206) {
        await response.body?.cancel();
        throw new ObjectFailure(
          'FAILED_PRECONDITION',
          `the source did not honour Range when resuming (HTTP ${response.status})`,
        );
      }
      if (!response.ok) {
        await response.body?.cancel();
        const code =
          response.status === 404
            ? 'NOT_FOUND'
            : response.status === 403 || response.status === 401
              ? 'PERMISSION_DENIED'
              : 'UNAVAILABLE';
        throw new ObjectFailure(code, `the source answered HTTP ${response.status}`);
      }
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          received += chunk.length;
          yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
        }
        return;
      } catch (error) {
        if (!signal.aborted && entry.size !== undefined && received === entry.size) return;
        if (signal.aborted || attempt >= this.settings.fetchAttempts) {
          throw new ObjectFailure('UNAVAILABLE', `the connection dropped after ${received} bytes: ${String(error)}`);
        }
      }
    }
  }

  private async whilePaused(controls: Running): Promise<void> {
    while (controls.paused && !controls.abort.signal.aborted) {
      await new Promise<void>((resolve) => (controls.resume = resolve));
    }
  }

  private recordFailure(operation: TransferOperation, url: string, code: string, message: string): void {
    let summary = operation.errorBreakdowns.find((candidate) => candidate.errorCode === code);
    if (!summary) {
      summary = { errorCode: code, errorCount: '0', errorLogEntries: [] };
      operation.errorBreakdowns.push(summary);
    }
    summary.errorCount = String(Number(summary.errorCount) + 1);
    if (summary.errorLogEntries.length < MAX_LOG_ENTRIES) {
      summary.errorLogEntries.push({ url, errorDetails: [message] });
    }
  }

  private end(operation: TransferOperation, controls: Running): void {
    this.running.delete(operation.name);
    if (controls.abort.signal.aborted) {
      if (controls.abort.signal.reason === 'closing') return;
      return this.finish(operation, 'ABORTED');
    }
    const first = operation.errorBreakdowns[0];
    if (!first) return this.finish(operation, 'SUCCESS');
    const failed = operation.errorBreakdowns.reduce((sum, summary) => sum + Number(summary.errorCount), 0);
    this.finish(operation, 'FAILED', {
      code: RPC_CODES[first.errorCode] ?? (RPC_CODES.UNKNOWN as number),
      message:
        `${failed} error${failed === 1 ? '' : 's'} in the transfer; see errorBreakdowns ` +
        `(first: ${first.errorLogEntries[0]?.errorDetails[0] ?? first.errorCode})`,
    });
  }

  private finish(
    operation: TransferOperation,
    status: OperationStatus,
    error?: { code: number; message: string },
  ): void {
    operation.status = status;
    operation.endTime = now(this.clock);
    if (error) operation.error = error;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.store.save();
  }

  /** Saves counters at most once a second: they change with every chunk. */
  private saveSoon(): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      this.store.save();
    }, 1000);
  }
}

function add(counters: Counters, key: keyof Counters, amount: number): void {
  counters[key] = String(Number(counters[key] ?? '0') + amount);
}
