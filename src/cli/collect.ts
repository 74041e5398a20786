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
import type { collectDataset, CollectInput, CollectionResult } from '../workflows';
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
    typedSearchAttributes: new TypedSearchAttributes([
      { key: DATASET_ID, value: input.datasetId },
      { key: COLLECTION_PHASE, value: 'queued' },
      { key: COLLECTION_OUTCOME, value: 'running' },
    ]),
    memo: { dataset: input.datasetId, sink: `gs://${input.sink.bucket}/${input.sink.prefix}` },
    staticSummary: `Collect ${input.datasetId} into gs://${input.sink.bucket}/${input.sink.prefix}`,
    staticDetails: describeInput(input),
  });
}

async function awaitResult(
  handle: WorkflowHandle<typeof collectDataset>,
  options: CollectOptions,
  out: (line: string) => void,
  run: { workflowId: string; link: string },
): Promise<number> {
  let result: CollectionResult;
  try {
    result = await handle.result();
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    const cause = applicationCause(error);
    const message = cause?.message ?? error.cause?.message ?? error.message;
    if (options.json) out(JSON.stringify({ ...run, failed: { type: cause?.type ?? null, message } }));
    else out(`collection failed: ${cause?.type ? `${cause.type}: ` : ''}${message}\n  see ${run.link}`);
    return 1;
  }
  if (options.json) {
    out(JSON.stringify({ ...run, manifest: result.manifest }, null, 2));
  } else {
    out('');
    out(formatManifest(result.manifest));
  }
  return 0;
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
