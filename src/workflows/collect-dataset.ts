/**
 * The collection workflow: takes a dataset from its source into the bucket, proves it arrived intact, and
 * documents it, one step after the other:
 *
 * 1. Source access: what the source offers, exactly (the source manifest).
 * 2. Preflight: the bucket exists and can be written, and the transfer service agent may write to it.
 * 3. Transfer launch: the URL list, the transfer job (named after the collection, so that every attempt
 *    finds the same one) and its one operation.
 * 4. Polling: one heartbeating activity follows the operation to its end, so that the history does not grow
 *    with the transfer's length; it reports progress at most twenty times, as signals.
 * 5. Integrity checks: every file present with the published size and checksums, and every row valid.
 * 6. Documentation: the record, as JSON and Markdown, next to the data; written whatever the outcome.
 *
 * Each step is an activity with its own retry policy; the phase is recorded as a search attribute and in the
 * current details, so that operators see in the Web UI where a run is. Cancelling the run cancels the
 * transfer in the service and waits for it to stop.
 */
import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PointerUpdate } from '../activities/write-documentation';
import type { TransferProgress } from '../activities/await-transfer';
import { NON_RETRYABLE_FAILURES } from '../failures';
import { nextCurrent, type CollectionPlan } from '../incremental';
import { collectionNames } from '../naming';
import { RECORD_VERSION, type CollectionRecord, type Outcome, type Problem } from '../record';
import { COLLECTION_OUTCOME, COLLECTION_PHASE } from '../search-attributes';
import type { SourceManifest, SourceSpec } from '../source/types';
import { countRunEnded, countRunStarted } from './run-metrics';

/** What to collect, and where. */
export interface CollectInput {
  /** A short name of the dataset (`ecommerce-behavior`), shown in the UI and used in names. */
  datasetId: string;
  source: SourceSpec;
  sink: { bucket: string; prefix: string };
  /** How the transfer is followed: poll interval and overall deadline, in milliseconds. */
  transfer?: { pollIntervalMs?: number; deadlineMs?: number };
  /**
   * Copy every file, even those unchanged since the dataset's last collection. By default a run transfers only
   * new and changed files (see `src/incremental.ts`).
   */
  full?: boolean;
}

/** The steps of a collection, in order. */
export const PHASES = [
  'queued',
  'source-access',
  'preflight',
  'changes',
  'transfer-launch',
  'transfer',
  'integrity',
  'documentation',
  'done',
] as const;
export type Phase = (typeof PHASES)[number];

/** What a run reports while it runs, through {@link progressQuery}. */
export interface CollectionProgress {
  datasetId: string;
  phase: Phase;
  outcome: Outcome | 'running';
  collectionId: string;
  files?: number;
  totalBytes?: number;
  bytesCopied?: number;
  objectsCopied?: number;
  /** Bytes copied over total bytes, 0 to 100. */
  percent?: number;
  jobName?: string;
  operationName?: string;
}

/** What a run returns: where its record is, and the figures of its summary. */
export interface CollectionResult {
  datasetId: string;
  collectionId: string;
  outcome: Outcome;
  manifest: SourceManifest;
  /** The folder of the collection, `gs://bucket/<prefix><collection id>/`. */
  folder: string;
  record: { json: string; markdown: string };
  transfer: { jobName: string; operationName: string; status: string; objectsCopied: number; bytesCopied: number };
  integrity: { ok: boolean; files: number; rows: number; invalidRows: number };
  /** What changed since the last collection: files transferred and left as they were. */
  changes?: { transferred: number; unchanged: number; previous?: string };
  problems: number;
}

/** Asks a run where it is. */
export const progressQuery = defineQuery<CollectionProgress>('progress');

/** Sent by the polling activity as the copy advances. */
export const transferProgressSignal = defineSignal<[TransferProgress]>('transferProgress');

const DEFAULT_POLL_INTERVAL_MS = 10_000;
const DEFAULT_DEADLINE_MS = 24 * 3600_000;

/** Exponential backoff from 2 s to a minute; without `maximumAttempts`, until the activity's own timeouts. */
const retry = (maximumAttempts?: number) => ({
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  ...(maximumAttempts ? { maximumAttempts } : {}),
  nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
});

const { accessSource } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '2 minutes',
  retry: retry(8),
});

const { preflight, planIncremental, launchTransfer, cancelTransfer, writeDocumentation } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: retry(10),
});

// An alert retries its own delivery and never throws for it; these retries are for a worker lost meanwhile.
const { notifyOutcome } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...retry(3), maximumInterval: '10 seconds' },
});

const { checkFile } = proxyActivities<Activities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '1 minute',
  retry: retry(5),
});

/** Collects a dataset: see the module comment for the steps. */
export async function collectDataset(input: CollectInput): Promise<CollectionResult> {
  const info = workflowInfo();
  const names = collectionNames(input.datasetId, input.sink.prefix, info.runStartTime, info.runId);
  const progress: CollectionProgress = {
    datasetId: input.datasetId,
    phase: 'queued',
    outcome: 'running',
    collectionId: names.collectionId,
  };
  const record: CollectionRecord = {
    recordVersion: RECORD_VERSION,
    datasetId: input.datasetId,
    collectionId: names.collectionId,
    workflowId: info.workflowId,
    runId: info.runId,
    outcome: 'running',
    startedAt: info.runStartTime.toISOString(),
    sink: { bucket: input.sink.bucket, folder: names.folder, dataPath: names.dataPath },
    transfer: {},
    transformations: [],
    problems: [],
  };
  const problem = (step: string, what: string, resolution: string) =>
    record.problems.push({ step, at: new Date().toISOString(), problem: what, resolution } satisfies Problem);
  const pollIntervalMs = input.transfer?.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const deadlineMs = input.transfer?.deadlineMs ?? DEFAULT_DEADLINE_MS;
  let transferActive = false;
  let plan: CollectionPlan | undefined;
  /** The object each file copied by this run landed as, by file name. */
  const copied = new Map<string, string>();

  setHandler(progressQuery, () => progress);
  countRunStarted(input.datasetId);
  if (patched('record-in-memo')) {
    // Where the record will be, from the start: `coleta report` and the Web UI find it without a worker.
    upsertMemo({ collection: names.collectionId, record: `gs://${input.sink.bucket}/${names.recordMarkdown}` });
  }
  setHandler(transferProgressSignal, (update) => {
    if (update.operationName !== progress.operationName || progress.phase !== 'transfer') return;
    progress.bytesCopied = update.bytesCopied;
    progress.objectsCopied = update.objectsCopied;
    progress.percent = update.percent;
    setCurrentDetails(
      details(
        progress,
        `Copying: ${update.percent}% (${update.bytesCopied} of ${update.totalBytes} bytes), ` +
          `${update.objectsCopied} of ${progress.files ?? '?'} files; operation ${update.operationName}`,
      ),
    );
  });

  /**
   * Tells the people on call how the run ended, once per incident: the activity decides whether this outcome
   * opens one (a failure after a success), closes one (a success after a failure), or neither. An alert that
   * cannot be sent is logged and never changes the run's outcome.
   */
  async function alert(outcome: 'succeeded' | 'failed', reason?: string): Promise<void> {
    if (!patched('alerts')) return;
    await CancellationScope.nonCancellable(async () => {
      try {
        const happened = outcome === 'failed' ? 'failed' : 'recovered';
        const notice = await notifyOutcome.executeWithOptions(
          { summary: `Alert: tell the people on call if ${input.datasetId} ${happened}` },
          [
            {
              datasetId: input.datasetId,
              workflowId: info.workflowId,
              runId: info.runId,
              collectionId: names.collectionId,
              outcome,
              phase: progress.phase,
              ...(reason ? { reason } : {}),
              record: `gs://${input.sink.bucket}/${names.recordMarkdown}`,
            },
          ],
        );
        if (notice.sent && !notice.delivered) log.warn('the alert could not be delivered', { why: notice.why });
      } catch (error) {
        log.error('the alert step failed', { error: String(error) });
      }
    });
  }

  /** Steps 3 to 5: launches the transfer of `manifest`'s files, follows it to its end, and verifies them. */
  async function copyAndVerify(manifest: SourceManifest): Promise<void> {
    // Step 3: transfer launch.
    enterPhase(progress, 'transfer-launch', `Writing the URL list and starting ${names.jobName}`);
    const launched = await launchTransfer.executeWithOptions(
      { summary: `Transfer launch: ${manifest.files.length} files into gs://${input.sink.bucket}/${names.dataPath}` },
      [{ manifest, bucket: input.sink.bucket, names }],
    );
    transferActive = true;
    Object.assign(record.transfer, {
      jobName: launched.jobName,
      operationName: launched.operationName,
      urlList: launched.urlList,
      adoptedJob: launched.adoptedJob,
      adoptedOperation: launched.adoptedOperation,
    });
    if (launched.attempt > 1) {
      problem(
        'transfer-launch',
        `the transfer service failed ${launched.attempt - 1} launch attempt(s) with a transient error ` +
          '(see the worker log)',
        `retried with backoff; attempt ${launched.attempt} succeeded`,
      );
    }
    if (launched.adoptedJob || launched.adoptedOperation) {
      problem(
        'transfer-launch',
        `an earlier attempt had already made ${launched.adoptedOperation ? 'the job and its operation' : 'the job'}`,
        `adopted ${launched.adoptedOperation ? launched.operationName : launched.jobName}; nothing was made twice`,
      );
    }
    progress.jobName = launched.jobName;
    progress.operationName = launched.operationName;

    // Step 4: polling. One activity for the whole wait: its heartbeats carry the state, and a retried or
    // restarted attempt resumes polling the same operation.
    enterPhase(progress, 'transfer', `Copying ${manifest.files.length} files with operation ${launched.operationName}`);
    const { awaitTransfer } = proxyActivities<Activities>({
      startToCloseTimeout: deadlineMs + 60_000,
      scheduleToCloseTimeout: deadlineMs + 120_000,
      heartbeatTimeout: Math.max(5_000, 3 * pollIntervalMs),
      cancellationType: 'TRY_CANCEL',
      retry: { ...retry(), maximumInterval: '30 seconds' },
    });
    const transferred = await awaitTransfer.executeWithOptions(
      { summary: `Polling: follow ${launched.operationName} until it ends` },
      [
        {
          operationName: launched.operationName,
          pollIntervalMs,
          deadline: new Date(Date.now() + deadlineMs).toISOString(),
          totalBytes: manifest.totalBytes,
          datasetId: input.datasetId,
        },
      ],
    );
    transferActive = false;
    Object.assign(record.transfer, transferred.report);
    for (const transient of transferred.transientErrors) {
      problem('transfer', transient.problem, transient.resolution);
    }
    progress.bytesCopied = transferred.report.counters?.bytesCopiedToSink ?? progress.bytesCopied;
    progress.objectsCopied = transferred.report.counters?.objectsCopiedToSink ?? progress.objectsCopied;
    progress.percent = 100;

    // Step 5: integrity checks, one activity per file, in parallel across workers.
    enterPhase(progress, 'integrity', `Verifying ${launched.objects.length} objects against the source manifest`);
    const files = await Promise.all(
      manifest.files.map((file, index) =>
        checkFile.executeWithOptions({ summary: `Integrity: verify ${file.name}` }, [
          { bucket: input.sink.bucket, object: launched.objects[index] as string, file, datasetId: input.datasetId },
        ]),
      ),
    );
    const ok = files.every((file) => file.ok);
    record.integrity = { ok, files };
    if (!ok) {
      const bad = files.filter((file) => !file.ok);
      for (const file of bad) {
        const where = !file.present
          ? `${file.object} is not in the bucket`
          : file.marked === false
            ? `${file.object} stays where it landed, but could not be marked coleta-integrity=failed ` +
              '(see the worker log)'
            : `${file.object} stays where it landed, marked coleta-integrity=failed`;
        problem(
          'integrity',
          `${file.name}: ${file.problems.join('; ')}`,
          `the run fails; ${where}, and this record says the collection is not to be used`,
        );
      }
      throw ApplicationFailure.nonRetryable(
        `integrity check failed for ${bad.map((file) => file.name).join(', ')}: ${bad[0]?.problems[0] ?? ''}`,
        'IntegrityFailed',
      );
    }
    files.forEach((file) => copied.set(file.name, file.object));
    record.outcome = 'succeeded';
  }

  try {
    // Step 1: source access.
    enterPhase(progress, 'source-access', `Finding out what ${describeSource(input.source)} offers`);
    const manifest = await accessSource.executeWithOptions(
      { summary: `Source access: list and probe the files of ${describeSource(input.source)}` },
      [{ datasetId: input.datasetId, source: input.source }],
    );
    record.source = manifest;
    progress.files = manifest.files.length;
    progress.totalBytes = manifest.totalBytes;
    progress.bytesCopied = 0;
    progress.percent = 0;

    // Step 2: preflight.
    enterPhase(progress, 'preflight', `Checking gs://${input.sink.bucket} and the transfer service agent's access`);
    const checked = await preflight.executeWithOptions(
      { summary: `Preflight: bucket gs://${input.sink.bucket} writable, service agent permitted` },
      [{ bucket: input.sink.bucket, folder: names.folder }],
    );
    record.target = checked.target;
    record.transfer.serviceAgent = checked.serviceAgent;

    // Step 2½: what changed since the last collection, so that only new and changed files are transferred.
    let toCopy = manifest;
    if (patched('incremental')) {
      enterPhase(progress, 'changes', `Comparing the source with the current copies of ${input.datasetId}`);
      plan = await planIncremental.executeWithOptions(
        { summary: `Changes: compare the source with the current copies of ${input.datasetId}` },
        [{ manifest, bucket: input.sink.bucket, prefix: input.sink.prefix, full: input.full === true }],
      );
      const files = manifest.files.filter((_, index) => plan?.files[index]?.change !== 'unchanged');
      toCopy = { ...manifest, files, totalBytes: files.reduce((sum, file) => sum + file.size, 0) };
      record.changes = {
        ...(plan.previous ? { previous: plan.previous } : {}),
        files: plan.files.map(({ name, change, why }) => ({ name, change, why })),
        removed: plan.removed,
        transferred: files.length,
        unchanged: manifest.files.length - files.length,
        full: input.full === true,
      };
      progress.files = files.length;
      progress.totalBytes = toCopy.totalBytes;
    }
    if (toCopy.files.length === 0) {
      // Nothing new: no job, no transfer, nothing to verify; the run documents that it looked.
      setCurrentDetails(
        details(progress, `Nothing changed since ${plan?.previous?.collectionId ?? 'the last collection'}`),
      );
      record.integrity = { ok: true, files: [] };
      record.outcome = 'succeeded';
    } else {
      await copyAndVerify(toCopy);
    }
  } catch (error) {
    record.outcome = isCancellation(error) ? 'cancelled' : 'failed';
    const failure = describeFailure(error);
    record.failure = { step: progress.phase, type: failure.type, message: failure.message };
    if (failure.type === 'TransferFailed' || failure.type === 'TransferAborted') {
      // The operation has ended, and the failure carries its report (with the error breakdown).
      transferActive = false;
      const details = failure.details as {
        report?: object;
        transientErrors?: { problem: string; resolution: string }[];
      };
      Object.assign(record.transfer, details?.report);
      for (const transient of details?.transientErrors ?? []) {
        problem('transfer', transient.problem, transient.resolution);
      }
    }
    problem(
      progress.phase,
      `${failure.type}: ${failure.message}`,
      `the run ${record.outcome === 'cancelled' ? 'was cancelled' : 'failed'}`,
    );
    if (transferActive && progress.operationName) {
      // The transfer did not end with the run: cancel it in the service and wait for it to stop, whatever
      // stopped the run (an operator's cancellation, a deadline, a failure of polling).
      await CancellationScope.nonCancellable(async () => {
        try {
          const stopped = await cancelTransfer.executeWithOptions(
            { summary: `Cancel: stop ${progress.operationName ?? ''} in the transfer service` },
            [{ operationName: progress.operationName as string }],
          );
          Object.assign(record.transfer, stopped);
          problem(
            'transfer',
            `the transfer was still running when the run stopped`,
            `cancelled ${progress.operationName ?? ''}: it ended ${stopped.status}`,
          );
        } catch (cancelError) {
          log.error('the transfer could not be cancelled', { error: String(cancelError) });
          problem(
            'transfer',
            `the transfer could not be cancelled: ${describeFailure(cancelError).message}`,
            'left to the operator: cancel it in the console',
          );
        }
      });
    }
    progress.outcome = record.outcome;
    if (failure.type !== 'BucketNotFound') {
      // Documented as far as it got; a record that cannot be written must not hide why the run failed.
      await CancellationScope.nonCancellable(() => document(progress, record).catch(() => undefined));
    }
    upsertSearchAttributes([{ key: COLLECTION_OUTCOME, value: record.outcome }]);
    setCurrentDetails(details(progress, `**${record.outcome}** in ${record.failure.step}: ${failure.message}`));
    countRunEnded(input.datasetId, record.outcome);
    if (record.outcome === 'failed') await alert('failed', `${failure.type}: ${failure.message}`);
    throw error;
  }

  progress.outcome = 'succeeded';
  let update: PointerUpdate | undefined;
  if (plan && record.source) {
    // the pointer moves to this collection's copies, and keeps the earlier ones of files that did not change
    const state = nextCurrent(record.source, plan, copied, {
      collectionId: names.collectionId,
      record: `gs://${input.sink.bucket}/${names.recordJson}`,
      at: new Date().toISOString(),
    });
    record.current = state.files;
    update = { pointer: plan.pointer, generation: plan.generation, state };
  }
  let written: Awaited<ReturnType<typeof document>>;
  try {
    written = await document(progress, record, update);
  } catch (error) {
    // the data is intact, but undocumented: the run fails, and says so
    progress.outcome = 'failed';
    upsertSearchAttributes([{ key: COLLECTION_OUTCOME, value: 'failed' }]);
    const failure = describeFailure(error);
    setCurrentDetails(details(progress, `**failed** in documentation: ${failure.message}`));
    countRunEnded(input.datasetId, 'failed');
    await alert('failed', `${failure.type}: ${failure.message}`);
    throw error;
  }
  enterPhase(
    progress,
    'done',
    record.changes?.transferred === 0
      ? `Nothing changed since ${record.changes.previous?.collectionId ?? 'the last collection'}: nothing copied`
      : `Collected ${record.changes?.transferred ?? record.source?.files.length ?? 0} files into ${names.folder}`,
  );
  upsertSearchAttributes([{ key: COLLECTION_OUTCOME, value: 'succeeded' }]);
  countRunEnded(input.datasetId, 'succeeded');
  await alert('succeeded');
  const files = record.integrity?.files ?? [];
  return {
    datasetId: input.datasetId,
    collectionId: names.collectionId,
    outcome: 'succeeded',
    manifest: record.source as SourceManifest,
    folder: `gs://${input.sink.bucket}/${names.folder}`,
    record: written,
    transfer: {
      jobName: record.transfer.jobName ?? '',
      operationName: record.transfer.operationName ?? '',
      status: record.transfer.status ?? '',
      objectsCopied: record.transfer.counters?.objectsCopiedToSink ?? 0,
      bytesCopied: record.transfer.counters?.bytesCopiedToSink ?? 0,
    },
    integrity: {
      ok: true,
      files: files.length,
      rows: files.reduce((sum, file) => sum + (file.rows ?? 0), 0),
      invalidRows: files.reduce((sum, file) => sum + (file.invalidRows ?? 0), 0),
    },
    ...(record.changes
      ? {
          changes: {
            transferred: record.changes.transferred,
            unchanged: record.changes.unchanged,
            ...(record.changes.previous ? { previous: record.changes.previous.collectionId } : {}),
          },
        }
      : {}),
    problems: record.problems.length,
  };
}

/**
 * Step 6: writes the record as it stands. A run that failed keeps the phase it failed in, in the progress
 * query and (since the patch `failed-phase-kept`) in the search attribute, so that filters by phase find it.
 */
async function document(progress: CollectionProgress, record: CollectionRecord, update?: PointerUpdate) {
  const previous = progress.phase;
  const text = `Writing the record of ${record.collectionId}`;
  if (record.outcome !== 'succeeded' && patched('failed-phase-kept')) setCurrentDetails(details(progress, text));
  else enterPhase(progress, 'documentation', text);
  record.endedAt = new Date().toISOString();
  try {
    return await writeDocumentation.executeWithOptions(
      { summary: `Documentation: write collection.json and collection.md beside the data` },
      update ? [record, update] : [record],
    );
  } finally {
    if (record.outcome !== 'succeeded') progress.phase = previous;
  }
}

function enterPhase(progress: CollectionProgress, phase: Phase, text: string): void {
  progress.phase = phase;
  upsertSearchAttributes([{ key: COLLECTION_PHASE, value: phase }]);
  setCurrentDetails(details(progress, text));
}

/** The current details of the run, in Markdown, as the Web UI shows them. */
function details(progress: CollectionProgress, text: string): string {
  return `**${progress.phase}** (${progress.collectionId}): ${text}`;
}

function describeSource(source: SourceSpec): string {
  if (source.kind === 'kaggle') {
    return `Kaggle ${source.owner}/${source.slug}${source.version ? ` version ${source.version}` : ''}`;
  }
  return `${source.urls.length} HTTP file${source.urls.length === 1 ? '' : 's'}`;
}

/** The innermost failure's type and message: the one that says what went wrong. */
function describeFailure(error: unknown): { type: string; message: string; details?: unknown } {
  let found: { type: string; message: string; details?: unknown } = { type: 'Error', message: String(error) };
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure) {
      found = { type: cause.type ?? 'ApplicationFailure', message: cause.message, details: cause.details?.[0] };
    } else found = { type: cause.name, message: cause.message };
  }
  return found;
}
