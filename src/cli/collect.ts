/**
 * `coleta collect`: starts a collection (or attaches to the one already collecting the same thing), prints
 * its workflow id and Web UI link, and by default waits for it and prints the source manifest.
 */
import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import type { RuntimeConfig } from '../config';
import { collectionWorkflowId } from '../collection';
import type { CollectOptions } from './collect-input';
import { COLLECTION_OUTCOME, COLLECTION_PHASE, DATASET_ID } from '../search-attributes';
import type { SourceManifest } from '../source/types';
import {
  PHASES,
  progressQuery,
  type collectDataset,
  type CollectInput,
  type CollectionProgress,
  type CollectionResult,
} from '../workflows';
import { formatBytes, table, workflowUrl } from './format';

/** Connects a Temporal client, with a message that says what to check when the server cannot be reached. */
export async function connectClient(config: RuntimeConfig): Promise<Client> {
  const address = config.temporal.connection.address ?? '127.0.0.1:7233';
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...config.temporal.connection, connectTimeout: 5000 });
  } catch (error) {
    throw new Error(
      `cannot reach Temporal at ${address} (TEMPORAL_ADDRESS): ${(error as Error).message}. ` +
        'For the local stack, run `npm run stack:up`.',
      { cause: error },
    );
  }
  return new Client({ connection, namespace: config.temporal.namespace });
}

/** Runs `coleta collect` for a validated request; returns the exit code. */
export async function collect(
  input: CollectInput,
  options: CollectOptions,
  config: RuntimeConfig,
  out = console.log,
): Promise<number> {
  const client = await connectClient(config);
  try {
    const workflowId = collectionWorkflowId(input);
    const attached = await isRunning(client, workflowId);
    const handle = await start(client, config, input, workflowId);
    const link = workflowUrl(config.webUiUrl, config.temporal.namespace, workflowId, handle.firstExecutionRunId);
    if (!options.json) {
      out(`${attached ? 'attached to the running collection' : 'started collection'} ${workflowId}`);
      out(`  dataset  ${input.datasetId}`);
      out(`  sink     gs://${input.sink.bucket}/${input.sink.prefix}`);
      out(`  Web UI   ${link}`);
    }
    if (!options.wait) {
      if (options.json) out(JSON.stringify({ workflowId, runId: handle.firstExecutionRunId, webUi: link }));
      return 0;
    }
    return await awaitResult(handle, options, out, { workflowId, link });
  } finally {
    await client.connection.close();
  }
}

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

function start(client: Client, config: RuntimeConfig, input: CollectInput, workflowId: string) {
  return client.workflow.start<typeof collectDataset>('collectDataset', {
    taskQueue: config.taskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    ...runMetadata(input),
  });
}

/**
 * What a collection run carries for operators, whoever starts it (`collect` or a schedule): the search
 * attributes to filter by, the memo, and the summary and details the Web UI shows.
 */
export function runMetadata(input: CollectInput) {
  const sink = `gs://${input.sink.bucket}/${input.sink.prefix}`;
  return {
    typedSearchAttributes: new TypedSearchAttributes([
      { key: DATASET_ID, value: input.datasetId },
      { key: COLLECTION_PHASE, value: 'queued' },
      { key: COLLECTION_OUTCOME, value: 'running' },
    ]),
    memo: { dataset: input.datasetId, sink },
    staticSummary: `Collect ${input.datasetId} into ${sink}`,
    staticDetails: describeInput(input),
  };
}

async function awaitResult(
  handle: WorkflowHandle<typeof collectDataset>,
  options: CollectOptions,
  out: (line: string) => void,
  run: { workflowId: string; link: string },
): Promise<number> {
  const watcher = options.json ? undefined : watchProgress(handle, out);
  let result: CollectionResult;
  try {
    result = await handle.result();
  } catch (error) {
    await watcher?.stop();
    if (!(error instanceof WorkflowFailedError)) throw error;
    const cause = applicationCause(error);
    const message = cause?.message ?? error.cause?.message ?? error.message;
    const record = await recordLocation(handle);
    if (options.json) out(JSON.stringify({ ...run, failed: { type: cause?.type ?? null, message }, record }));
    else {
      out(`collection failed: ${cause?.type ? `${cause.type}: ` : ''}${message}`);
      if (record) out(`  record   ${record} (coleta report ${run.workflowId})`);
      out(`  see ${run.link}`);
    }
    return 1;
  }
  await watcher?.stop();
  if (options.json) {
    out(JSON.stringify({ ...run, ...result }, null, 2));
  } else {
    out('');
    out(formatManifest(result.manifest));
    out('');
    out(formatSummary(result, run.link));
  }
  return 0;
}

/** Where a run's record is (or will be), from its memo; undefined for runs that predate it. */
export async function recordLocation(handle: WorkflowHandle): Promise<string | undefined> {
  const memo = (await handle.describe()).memo as { record?: unknown } | undefined;
  return typeof memo?.record === 'string' ? memo.record : undefined;
}

/** The report summary of a finished collection, as `collect` prints it. */
export function formatSummary(result: CollectionResult, link: string): string {
  const { transfer, integrity, changes } = result;
  if (changes && changes.transferred === 0) {
    return [
      `collected ${result.collectionId}: ${result.outcome}, nothing changed`,
      table([
        ['  changes', `none since ${changes.previous ?? 'the last collection'}: no transfer job, nothing copied`],
        ['  record', result.record.markdown],
        ['  Web UI', link],
      ]),
    ].join('\n');
  }
  return [
    `collected ${result.collectionId}: ${result.outcome}`,
    table([
      ['  data', `${result.folder}data/`],
      ...(changes
        ? [
            [
              '  changes',
              changes.previous
                ? `${changes.transferred} new or changed, ${changes.unchanged} unchanged since ${changes.previous}`
                : `${changes.transferred} new: the first collection of this dataset here`,
            ],
          ]
        : []),
      ['  transfer', `${transfer.status}, ${transfer.objectsCopied} objects, ${formatBytes(transfer.bytesCopied)}`],
      ['  job', transfer.jobName],
      ['  operation', transfer.operationName],
      [
        '  integrity',
        `${integrity.ok ? 'intact' : 'FAILED'}: ${integrity.files} files, ${integrity.rows} rows, ` +
          `${integrity.invalidRows} invalid`,
      ],
      ['  problems', result.problems === 0 ? 'none' : `${result.problems} (see the record)`],
      ['  record', result.record.markdown],
      ['  Web UI', link],
    ]),
  ].join('\n');
}

/**
 * Follows a run through its progress query while `collect` waits: on a terminal, one line redrawn in place
 * with a progress bar; otherwise a line at each change of phase. Queries that fail (no worker yet) are
 * skipped: the wait is for the result, and the display only helps.
 */
function watchProgress(handle: WorkflowHandle<typeof collectDataset>, out: (line: string) => void) {
  const tty = out === console.log && process.stdout.isTTY;
  let stopped = false;
  let lastPhase: string | undefined;
  let drawn = false;
  const loop = (async () => {
    while (!stopped) {
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress && !stopped) {
        if (tty) {
          process.stdout.write(`\r\x1b[2K${progressLine(progress)}`);
          drawn = true;
        } else if (progress.phase !== lastPhase) {
          out(progressLine(progress));
        }
        lastPhase = progress.phase;
      }
      await new Promise((resolve) => setTimeout(resolve, tty ? 250 : 500));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      if (drawn) process.stdout.write('\r\x1b[2K');
    },
  };
}

/** One line of progress: the phase and, once the transfer is known, a bar with the bytes copied. */
export function progressLine(progress: CollectionProgress): string {
  const phase = progress.phase.padEnd(15);
  const copying = PHASES.indexOf(progress.phase) >= PHASES.indexOf('transfer');
  if (!copying || progress.totalBytes === undefined || progress.percent === undefined) return `  ${progress.phase}`;
  const width = 24;
  const filled = Math.round((progress.percent / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const bytes = `${formatBytes(progress.bytesCopied ?? 0)} of ${formatBytes(progress.totalBytes)}`;
  const files = `${progress.objectsCopied ?? 0}/${progress.files ?? '?'} files`;
  return `  ${phase} ${bar} ${String(progress.percent).padStart(3)}%  ${bytes}, ${files}`;
}

/** The innermost application failure of an error chain: the one that says what went wrong. */
function applicationCause(error: Error): ApplicationFailure | undefined {
  let found: ApplicationFailure | undefined;
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure) found = cause;
  }
  return found;
}

/** The source manifest as a table, with its totals. */
export function formatManifest(manifest: SourceManifest): string {
  const rows = [
    ['file', 'size', 'md5', 'crc32c', 'etag', 'last modified', 'ranges'],
    ...manifest.files.map((file) => [
      file.name,
      formatBytes(file.size),
      file.md5 ?? '-',
      file.crc32c ?? '-',
      file.etag ?? '-',
      file.lastModified ?? '-',
      file.acceptsRanges ? 'yes' : 'no',
    ]),
  ];
  const source =
    manifest.source.kind === 'kaggle'
      ? `Kaggle ${manifest.source.owner}/${manifest.source.slug} version ${manifest.source.version}`
      : 'HTTP';
  return [
    `source manifest of ${manifest.datasetId} (${source}): ` +
      `${manifest.files.length} files, ${formatBytes(manifest.totalBytes)}`,
    `fingerprint ${manifest.fingerprint}`,
    '',
    table(rows),
    '',
    ...manifest.files.map((file) => `${file.name}  ${file.url}`),
  ].join('\n');
}

function describeInput(input: CollectInput): string {
  const { source } = input;
  const lines = [`**Dataset:** ${input.datasetId}`, `**Sink:** gs://${input.sink.bucket}/${input.sink.prefix}`];
  if (source.kind === 'kaggle') {
    lines.push(`**Source:** Kaggle ${source.owner}/${source.slug}, version ${source.version ?? 'current'}`);
    if (source.files) lines.push(`**Files:** ${source.files.join(', ')}`);
  } else {
    lines.push('**Source:** HTTP', '', ...source.urls.map((url) => `- ${url}`));
  }
  return lines.join('\n');
}
