/**
 * Step 4 of a collection, polling: follows the run's own transfer operation, by name, until it ends. One
 * activity covers the whole wait, so the workflow history holds a handful of events however long the
 * transfer runs.
 *
 * - Each poll heartbeats the operation's name, status and counters, and the transient errors met so far. A
 *   retried or restarted attempt (after a worker crash, the heartbeat timeout) reads them back and resumes
 *   polling the same operation: polling never launches anything.
 * - UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED are retried here, with exponential backoff (with
 *   heartbeats while it waits), and recorded. NOT_FOUND ends the step as TransferFailed, and a refusal
 *   (PERMISSION_DENIED, INVALID_ARGUMENT, FAILED_PRECONDITION, UNAUTHENTICATED) as TransferRefused, neither
 *   retried; any other error ends this attempt, and the activity's retry policy tries again.
 * - FAILED and ABORTED end the step with a typed, non-retryable failure that carries the error breakdown.
 * - Past the deadline (checked after every poll, answered or not) the step fails with TransferTimedOut; the
 *   workflow then cancels the transfer.
 * - As the copy advances it signals the workflow at each 5 % step (at most twenty signals per run), so that
 *   the progress query and the Web UI show the bytes copied without the history growing with time.
 *
 * - It counts the bytes copied as each poll sees them (`coleta_transfer_bytes`, from the heartbeat's counters
 *   on, so a resumed attempt does not count them again), and records how long the operation took when it ends
 *   or the deadline passes (`coleta_transfer_duration_seconds`), both tagged with the run's dataset.
 *
 * `cancelTransfer` is the workflow's cleanup: it cancels the operation in the service and waits until it
 * has stopped, returning how it ended.
 */
import { activityInfo, cancellationSignal, getClient, heartbeat, log, sleep } from '@temporalio/activity';
import { failure } from '../failures';
import { callOptions, grpcCode, TRANSIENT_CODES } from '../google';
import { datasetMeter, METRICS } from '../metrics';
import type { TransferReport } from '../record';
import { ENDED, readOperationState, type OperationState } from '../transfer/operation';
import type { GoogleClients } from './google-clients';

/** What polling needs. */
export interface AwaitTransferInput {
  operationName: string;
  pollIntervalMs: number;
  /** When to give up (ISO 8601). */
  deadline: string;
  /** The manifest's total, for the percentage before the service has counted the bytes. */
  totalBytes: number;
  /** The run's dataset, for the metrics' `dataset` tag; read from the run's search attributes when absent. */
  datasetId?: string;
}

/** What the workflow is told as the copy advances. */
export interface TransferProgress {
  operationName: string;
  status: string;
  bytesCopied: number;
  objectsCopied: number;
  totalBytes: number;
  percent: number;
}

/** A transient error that polling rode out. */
export interface TransientError {
  problem: string;
  resolution: string;
}

/** The heartbeat: enough to resume on another attempt. */
interface PollState {
  operationName: string;
  status: string;
  counters: Record<string, number>;
  polls: number;
  transientErrors: TransientError[];
  /** The last percentage step signalled. */
  signalled: number;
}

/** The result: the operation's final report, and what was ridden out on the way. */
export interface AwaitTransferResult {
  report: TransferReport;
  transientErrors: TransientError[];
}

const MAX_BACKOFF_MS = 60_000;
/** Codes of GetOperation that no retry mends: polling stops with TransferRefused. */
const REFUSALS = new Set(['PERMISSION_DENIED', 'INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'UNAUTHENTICATED']);
/** The wait before the second poll; it doubles up to the poll interval. */
const FIRST_POLL_MS = 100;
/** Transient errors kept in the heartbeat and the record; more are counted in the last one. */
const MAX_RECORDED = 20;

/** Makes the polling activity and the cancelling one. */
export function makeTransferPolling(clients: GoogleClients, requestTimeoutMs: number) {
  const call = callOptions(requestTimeoutMs);

  async function getOperation(name: string): Promise<OperationState> {
    const [operation] = await clients.transfer.operationsClient.getOperation({ name } as never, call as never);
    return readOperationState(operation);
  }

  async function awaitTransfer(input: AwaitTransferInput): Promise<AwaitTransferResult> {
    const previous = activityInfo().heartbeatDetails as PollState | undefined;
    const state: PollState =
      previous?.operationName === input.operationName
        ? previous
        : {
            operationName: input.operationName,
            status: 'UNKNOWN',
            counters: {},
            polls: 0,
            transientErrors: [],
            signalled: -1,
          };
    if (previous) log.info('resuming polling', { operation: input.operationName, polls: state.polls });
    const deadline = Date.parse(input.deadline);
    const signal = cancellationSignal();
    let failuresInARow = 0;
    let last: OperationState | undefined;

    const meter = await datasetMeter(input.datasetId);
    const bytesCopied = meter.createCounter(METRICS.transferBytes, 'By', 'Bytes copied into the sink by transfers');
    const duration = meter.createHistogram(
      METRICS.transferDuration,
      'float',
      's',
      'How long each transfer operation took, from its start to its end (or to the deadline), by outcome',
    );
    // From the operation's own start and end times; the first attempt's schedule stands in for a start the
    // service has not told yet.
    const measure = (outcome: 'succeeded' | 'failed' | 'aborted' | 'timed_out') => {
      const report = last?.report;
      const start = report?.startTime ? Date.parse(report.startTime) : activityInfo().scheduledTimestampMs;
      const end = report?.endTime ? Date.parse(report.endTime) : Date.now();
      duration.record(Math.max(0, (end - start) / 1000), { outcome });
    };

    for (;;) {
      let current: OperationState | undefined;
      try {
        current = await getOperation(input.operationName);
        failuresInARow = 0;
      } catch (error) {
        if (signal.aborted) throw error;
        const code = grpcCode(error);
        const reason = error instanceof Error ? error.message : String(error);
        const message = `GetOperation ${input.operationName}: ${reason}`;
        if (code === 'NOT_FOUND') throw failure('TransferFailed', message);
        if (code && REFUSALS.has(code)) throw failure('TransferRefused', message);
        if (!code || !TRANSIENT_CODES.has(code)) throw failure('TransferServiceUnavailable', message);
        failuresInARow += 1;
        const backoff = Math.min(MAX_BACKOFF_MS, input.pollIntervalMs * 2 ** failuresInARow);
        recordTransient(state, code, backoff);
        log.warn('transient error while polling', { operation: input.operationName, code, backoffMs: backoff });
        heartbeat(state);
        checkDeadline(state, input, deadline, () => measure('timed_out'));
        await pause(state, backoff, input.pollIntervalMs);
        continue;
      }
      last = current;
      const copiedBefore = state.counters.bytesCopiedToSink ?? 0;
      state.polls += 1;
      state.status = current.report.status;
      state.counters = current.report.counters ?? {};
      const copied = (state.counters.bytesCopiedToSink ?? 0) - copiedBefore;
      if (copied > 0) bytesCopied.add(copied);
      await reportProgress(state, input.totalBytes);
      heartbeat(state);

      if (current.done || ENDED.has(current.report.status)) {
        const status = current.report.status;
        measure(status === 'SUCCESS' ? 'succeeded' : status === 'ABORTED' ? 'aborted' : 'failed');
        return ended(current, state);
      }
      checkDeadline(state, input, deadline, () => measure('timed_out'));
      // Short transfers end within a second: the first polls come quickly, then every interval.
      await sleep(Math.min(input.pollIntervalMs, FIRST_POLL_MS * 2 ** (state.polls - 1)));
    }
  }

  async function cancelTransfer(input: { operationName: string }): Promise<TransferReport> {
    try {
      await clients.transfer.operationsClient.cancelOperation({ name: input.operationName } as never, call as never);
    } catch (error) {
      // An operation that has already ended cannot be cancelled: read how it ended.
      const code = grpcCode(error);
      if (code !== 'FAILED_PRECONDITION' && code !== 'INVALID_ARGUMENT') throw error;
    }
    for (;;) {
      const current = await getOperation(input.operationName);
      heartbeat(current.report.status);
      if (current.done || ENDED.has(current.report.status)) {
        log.info('transfer cancelled', { operation: input.operationName, status: current.report.status });
        return { ...current.report, cancelledByRun: current.report.status === 'ABORTED' };
      }
      await sleep(500);
    }
  }

  return { awaitTransfer, cancelTransfer };
}

/**
 * Past the deadline, polling gives up with TransferTimedOut (after `onPast`); the workflow then cancels the
 * transfer.
 */
function checkDeadline(state: PollState, input: AwaitTransferInput, deadline: number, onPast: () => void): void {
  if (Date.now() <= deadline) return;
  onPast();
  throw failure(
    'TransferTimedOut',
    `${input.operationName} had not ended by the deadline (${input.deadline}); it was ${state.status}`,
    { operationName: input.operationName, counters: state.counters },
  );
}

/** Waits `ms`, heartbeating at least every `beatMs`, so that a long backoff is not taken for a dead worker. */
async function pause(state: PollState, ms: number, beatMs: number): Promise<void> {
  for (let left = ms; left > 0; left -= beatMs) {
    await sleep(Math.min(left, beatMs));
    heartbeat(state);
  }
}

/**
 * Signals the workflow when the copy crosses another 5 % step, from 5 % to 100 %: at most twenty signals a
 * run (the workflow knows 0 % by itself). A failed signal is only logged.
 */
async function reportProgress(state: PollState, manifestTotal: number): Promise<void> {
  const totalBytes = state.counters.bytesFoundFromSource || manifestTotal;
  const bytesCopied = state.counters.bytesCopiedToSink ?? 0;
  const percent = totalBytes > 0 ? Math.min(100, Math.floor((bytesCopied / totalBytes) * 100)) : 0;
  const step = Math.floor(percent / 5);
  if (step === 0 || step <= state.signalled) return;
  state.signalled = step;
  const progress: TransferProgress = {
    operationName: state.operationName,
    status: state.status,
    bytesCopied,
    objectsCopied: state.counters.objectsCopiedToSink ?? 0,
    totalBytes,
    percent,
  };
  const { workflowExecution } = activityInfo();
  if (!workflowExecution) return;
  try {
    await getClient()
      .workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId)
      .signal('transferProgress', progress);
  } catch (error) {
    log.warn('progress could not be signalled', { error: String(error) });
  }
}

function recordTransient(state: PollState, code: string, backoffMs: number): void {
  const entry = {
    problem: `GetOperation answered ${code}`,
    resolution: `retried after ${Math.round(backoffMs / 100) / 10} s`,
  };
  if (state.transientErrors.length < MAX_RECORDED) state.transientErrors.push(entry);
  else {
    const last = state.transientErrors[MAX_RECORDED - 1] as TransientError;
    last.problem =
      'GetOperation answered UNAVAILABLE, RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED again ' +
      `(more than ${MAX_RECORDED} times)`;
    last.resolution = 'retried with backoff each time';
  }
}

function ended(current: OperationState, state: PollState): AwaitTransferResult {
  const report: TransferReport = { ...current.report, polls: state.polls };
  const status = current.report.status;
  if (status === 'SUCCESS') return { report, transientErrors: state.transientErrors };
  const breakdown = (current.report.errorBreakdowns ?? [])
    .map((entry) => {
      const example = entry.examples[0];
      const shown = example ? ` (e.g. ${example.url}: ${example.details[0] ?? ''})` : '';
      return `${entry.errorCount} ${entry.errorCode}${shown}`;
    })
    .join('; ');
  const text =
    `${state.operationName} ended ${status}` +
    (current.error ? `: ${current.error.message}` : '') +
    (breakdown ? `; errors: ${breakdown}` : '');
  throw failure(status === 'ABORTED' ? 'TransferAborted' : 'TransferFailed', text, {
    report,
    transientErrors: state.transientErrors,
  });
}
