/**
 * The commands that look at collections already started: `coleta status`, `coleta cancel`, `coleta list`
 * and `coleta report`. They read what the Temporal server keeps (the run's status, search attributes and
 * memo), ask a running run for its progress, and read the record from the bucket; none of them needs a
 * worker, except for the live progress of a running run.
 */
import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { RuntimeConfig } from '../config';
import { InputError } from '../collection';
import { storageFor } from '../google';
import { datasetHealth, type DatasetHealth } from '../health';
import type { CollectionRecord } from '../record';
import { COLLECTION_OUTCOME, COLLECTION_PHASE, DATASET_ID } from '../search-attributes';
import { HEALTH_WATCH_ID, PHASES, progressQuery, type CollectionProgress, type collectDataset } from '../workflows';
import { connectClient, progressLine, recordLocation } from './collect';
import { formatBytes, formatDuration, table, workflowUrl } from './format';
import { RunError } from './run-error';

/** The outcomes `list --outcome` takes, as the CollectionOutcome search attribute holds them. */
export const OUTCOMES = ['running', 'succeeded', 'failed', 'cancelled'] as const;

type Out = (line: string) => void;

/** Runs `fn` with a connected client, closing it afterwards. */
async function withClient<T>(config: RuntimeConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(config);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

/** Describes a run, with a message naming the workflow id when there is none. */
async function describe(client: Client, workflowId: string) {
  const handle = client.workflow.getHandle<typeof collectDataset>(workflowId);
  try {
    return { handle, description: await handle.describe() };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new RunError(`no collection has the workflow id "${workflowId}" (see \`coleta list\`)`);
    }
    throw error;
  }
}

/** The progress of a running run, or undefined when no worker answers within a few seconds. */
async function progressOf(handle: WorkflowHandle<typeof collectDataset>): Promise<CollectionProgress | undefined> {
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000).unref());
  return Promise.race([handle.query(progressQuery).catch(() => undefined), timeout]);
}

/** `coleta status <workflow-id>`: where a run is, or how it ended. */
export async function status(
  workflowId: string,
  options: { json?: boolean },
  config: RuntimeConfig,
  out: Out = console.log,
) {
  return withClient(config, async (client) => {
    const { handle, description } = await describe(client, workflowId);
    const running = description.status.name === 'RUNNING';
    const progress = running ? await progressOf(handle) : undefined;
    const record = await recordLocation(handle);
    const link = workflowUrl(config.webUiUrl, config.temporal.namespace, workflowId, description.runId);
    const summary = runSummary(description);
    if (options.json) {
      out(JSON.stringify({ ...summary, progress: progress ?? null, record: record ?? null, webUi: link }, null, 2));
      return 0;
    }
    out(
      table([
        ['workflow', workflowId],
        ['status', summary.status],
        ['dataset', summary.dataset ?? '-'],
        ['phase', summary.phase ?? '-'],
        ['outcome', summary.outcome ?? '-'],
        ['started', summary.started],
        ['closed', summary.closed ?? '-'],
        ['sink', summary.sink ?? '-'],
        ['record', record ?? '-'],
        ['Web UI', link],
      ]),
    );
    if (progress) {
      out('');
      out(progressLine(progress));
      if (progress.operationName) out(`  operation ${progress.operationName}`);
    } else if (running) {
      out('');
      out('  no worker answered the progress query: is a worker serving the task queue?');
    }
    return 0;
  });
}

/**
 * `coleta cancel <workflow-id>`: asks the run to stop. The run cancels its transfer operation in the service,
 * waits for it to stop, and documents the cancellation; with `wait`, this waits for all of that and prints
 * how the transfer ended.
 */
export async function cancel(
  workflowId: string,
  options: { wait: boolean; json?: boolean },
  config: RuntimeConfig,
  out: Out = console.log,
) {
  return withClient(config, async (client) => {
    const { handle, description } = await describe(client, workflowId);
    if (description.status.name !== 'RUNNING') {
      throw new RunError(`${workflowId} is not running: it is ${description.status.name}`);
    }
    await handle.cancel();
    if (!options.wait) {
      out(
        options.json ? JSON.stringify({ workflowId, cancelRequested: true }) : `cancellation requested: ${workflowId}`,
      );
      return 0;
    }
    let ended = 'completed before the cancellation reached it';
    try {
      await handle.result();
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      ended =
        error.cause instanceof CancelledFailure ? 'cancelled' : `failed: ${error.cause?.message ?? error.message}`;
    }
    const record = await readRecord(config, await recordLocation(handle), 'json').catch(() => undefined);
    const parsed = record ? (JSON.parse(record) as CollectionRecord) : undefined;
    const transfer = parsed?.transfer;
    if (options.json) {
      out(JSON.stringify({ workflowId, ended, transfer: transfer ?? null }, null, 2));
      return 0;
    }
    out(`${workflowId}: ${ended}`);
    if (transfer?.operationName) {
      out(
        `  transfer operation ${transfer.operationName}: ${transfer.status ?? 'unknown'}` +
          `${transfer.cancelledByRun ? ', cancelled by the run' : ''}, ` +
          `${formatBytes(transfer.counters?.bytesCopiedToSink ?? 0)} copied`,
      );
    } else {
      out('  no transfer had been launched');
    }
    return 0;
  });
}

/** The filters of `coleta list`. */
export interface ListOptions {
  dataset?: string;
  phase?: string;
  outcome?: string;
  limit: string;
  json?: boolean;
}

/** Checks the filters of `coleta list` and builds its visibility query; throws an {@link InputError}. */
export function listQuery(options: ListOptions): { query: string; limit: number } {
  const clauses = [`WorkflowType = 'collectDataset'`];
  if (options.dataset !== undefined) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.dataset)) {
      throw new InputError(`--dataset: "${options.dataset}" is not a dataset id`);
    }
    clauses.push(`${DATASET_ID.name} = '${options.dataset}'`);
  }
  if (options.phase !== undefined) {
    if (!(PHASES as readonly string[]).includes(options.phase)) {
      throw new InputError(`--phase: unknown phase "${options.phase}"; known: ${PHASES.join(', ')}`);
    }
    clauses.push(`${COLLECTION_PHASE.name} = '${options.phase}'`);
  }
  if (options.outcome !== undefined) {
    if (!(OUTCOMES as readonly string[]).includes(options.outcome)) {
      throw new InputError(`--outcome: unknown outcome "${options.outcome}"; known: ${OUTCOMES.join(', ')}`);
    }
    clauses.push(`${COLLECTION_OUTCOME.name} = '${options.outcome}'`);
  }
  const limit = Number(options.limit);
  if (!/^\d+$/.test(options.limit) || limit < 1 || limit > 1000) {
    throw new InputError(`--limit: "${options.limit}" is not a whole number from 1 to 1000`);
  }
  return { query: clauses.join(' AND '), limit };
}

/** `coleta list`: the collections, newest first, filtered by dataset, phase and outcome. */
export async function list(options: ListOptions, config: RuntimeConfig, out: Out = console.log) {
  const { query, limit } = listQuery(options);
  return withClient(config, async (client) => {
    const runs: ReturnType<typeof runSummary>[] = [];
    for await (const execution of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      runs.push(runSummary(execution));
      if (runs.length >= limit) break;
    }
    if (options.json) {
      out(JSON.stringify(runs, null, 2));
      return 0;
    }
    if (runs.length === 0) {
      out('no collections match');
      return 0;
    }
    out(
      table([
        ['workflow', 'status', 'dataset', 'phase', 'outcome', 'started', 'closed'],
        ...runs.map((run) => [
          run.workflowId,
          run.status,
          run.dataset ?? '-',
          run.phase ?? '-',
          run.outcome ?? '-',
          run.started,
          run.closed ?? '-',
        ]),
      ]),
    );
    return 0;
  });
}

/** `coleta report <workflow-id>`: prints the run's record, the Markdown page or (`--json`) the JSON. */
export async function report(
  workflowId: string,
  options: { json?: boolean },
  config: RuntimeConfig,
  out: Out = console.log,
) {
  return withClient(config, async (client) => {
    const { handle, description } = await describe(client, workflowId);
    const location = await recordLocation(handle);
    if (!location) throw new RunError(`${workflowId} names no record in its memo: it predates records in memos`);
    const text = await readRecord(config, location, options.json ? 'json' : 'markdown');
    if (text === undefined) {
      const phase = description.typedSearchAttributes.get(COLLECTION_PHASE) ?? 'an early phase';
      throw new RunError(
        `${workflowId} has not written its record yet (it is ${description.status.name}, in ${phase}); ` +
          `it will be at ${location}`,
      );
    }
    out(text.trimEnd());
    return 0;
  });
}

/**
 * Reads a record from the bucket: `location` is the Markdown page's `gs://` URL, and the JSON is beside it.
 * Undefined when it has not been written.
 */
async function readRecord(
  config: RuntimeConfig,
  location: string | undefined,
  form: 'json' | 'markdown',
): Promise<string | undefined> {
  const match = location ? /^gs:\/\/([^/]+)\/(.+)$/.exec(location) : null;
  if (!match) return undefined;
  const [, bucket, markdown] = match as unknown as [string, string, string];
  const object = form === 'json' ? markdown.replace(/\.md$/, '.json') : markdown;
  try {
    const [bytes] = await storageFor(config.google).bucket(bucket).file(object).download();
    return bytes.toString('utf8');
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw new Error(`cannot read gs://${bucket}/${object}: ${(error as Error).message}`, { cause: error });
  }
}

/** What `status` and `list` say of a run. */
function runSummary(execution: Omit<WorkflowExecutionInfo, 'raw'>) {
  const memo = (execution.memo ?? {}) as { sink?: unknown };
  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    status: execution.status.name,
    dataset: execution.typedSearchAttributes.get(DATASET_ID),
    phase: execution.typedSearchAttributes.get(COLLECTION_PHASE),
    outcome: execution.typedSearchAttributes.get(COLLECTION_OUTCOME),
    sink: typeof memo.sink === 'string' ? memo.sink : undefined,
    started: execution.startTime.toISOString(),
    closed: execution.closeTime?.toISOString(),
  };
}

/**
 * `coleta status` without a workflow id: the health of every dataset that has runs or schedules (see
 * `../health.ts`). Exits 1 when a dataset needs attention (stale, or its last finished run failed), so that it
 * can gate a script.
 */
export async function health(options: { json?: boolean }, config: RuntimeConfig, out: Out = console.log) {
  return withClient(config, async (client) => {
    const now = Date.now();
    const datasets = await datasetHealth(client, now);
    if (options.json) out(JSON.stringify(datasets, null, 2));
    else if (datasets.length === 0) out('no collections and no schedules yet: start one with `coleta collect`');
    else {
      const age = (at: string) =>
        `${formatDuration(Math.max(0, Math.round((now - Date.parse(at)) / 1000)) * 1000)} ago`;
      out(
        table([
          ['dataset', 'last success', 'last failure', 'running', 'next run', 'freshness'],
          ...datasets.map((health) => [
            health.dataset,
            health.lastSuccess ? age(health.lastSuccess.at) : 'never',
            health.lastFailure ? `${age(health.lastFailure.at)} (${health.lastFailure.outcome})` : '-',
            String(health.running.length),
            health.nextRun ?? '-',
            health.freshnessMs === null
              ? health.freshness
              : `${health.freshness} (within ${formatDuration(health.freshnessMs)})`,
          ]),
        ]),
      );
      for (const health of datasets.filter((item) => item.lastFailure)) {
        const failure = health.lastFailure as NonNullable<DatasetHealth['lastFailure']>;
        out(`  ${health.dataset}: last failure ${failure.workflowId}: ${failure.reason}`);
      }
      if (datasets.some((health) => health.freshnessMs !== null)) {
        // staleness is alerted only while the watch runs: say so where the freshness is shown
        const watch = await client.workflow
          .getHandle(HEALTH_WATCH_ID)
          .describe()
          .catch(() => undefined);
        out(
          watch?.status.name === 'RUNNING'
            ? `staleness alerts: the health watch ${HEALTH_WATCH_ID} runs`
            : `staleness alerts: off, the health watch is not running (start it with \`coleta watch\`)`,
        );
      }
    }
    return datasets.some((health) => health.needsAttention) ? 1 : 0;
  });
}
