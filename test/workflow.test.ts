/**
 * The collection workflow on the real Temporal dev server, with a real worker, against the origin: the
 * manifest it returns, what operators see (search attributes, the progress query, user metadata), retries
 * of a flaky source, an immediate failure for a missing file, and no secret in the workflow history.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { collectionWorkflowId } from '../src/collection';
import { presets } from '../src/dataset/presets';
import type { Origin } from '../src/origin/server';
import { COLLECTION_OUTCOME, COLLECTION_PHASE, DATASET_ID } from '../src/search-attributes';
import { collectDataset, progressQuery, type CollectInput } from '../src/workflows';
import { collectionHarness, KAGGLE_TEST_CREDENTIALS, quietLogger, type CollectionHarness } from './helpers/fixtures';

let harness: CollectionHarness;
let env: TestWorkflowEnvironment;
let origin: Origin;
const taskQueue = 'workflow-test';

before(async () => {
  harness = await collectionHarness(taskQueue);
  ({ env, origin } = harness);
});

after(() => harness?.stop());

/**
 * Histories of earlier runs, replayed on the current workflow code so that a change that breaks determinism
 * fails here rather than in running workflows. `COLETA_RECORD_HISTORIES=1 npm test` records them anew. A change
 * of the workflow's commands is versioned with the SDK's patching, and the histories from before it are kept
 * beside the new ones, so that every path a running workflow may be on keeps replaying: `*.before-patches.json`
 * predate the patches `record-in-memo` and `failed-phase-kept`, `*.before-incremental.json` the patches
 * `incremental` and `alerts`.
 */
const HISTORIES = path.join(__dirname, 'histories');

const { History } = temporal.api.history.v1;

async function keepHistory(handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }, name: string) {
  if (!process.env.COLETA_RECORD_HISTORIES) return;
  fs.mkdirSync(HISTORIES, { recursive: true });
  const history = History.toObject(History.fromObject(await handle.fetchHistory()), {
    longs: String,
    enums: String,
    bytes: String,
  });
  fs.writeFileSync(path.join(HISTORIES, `${name}.json`), `${JSON.stringify(history, null, 1)}\n`);
}

async function input(name: string, sink = { bucket: 'coleta-test', prefix: 'raw/' }): Promise<CollectInput> {
  const preset = presets({ originUrl: origin.url, kaggleApiUrl: `${origin.url}/api/v1` }).find((p) => p.name === name);
  assert.ok(preset);
  await harness.bucket(sink.bucket);
  return { datasetId: preset.datasetId, source: preset.source, sink, transfer: { pollIntervalMs: 200 } };
}

function start(collect: CollectInput, workflowId = collectionWorkflowId(collect)) {
  return env.client.workflow.start(collectDataset, {
    taskQueue,
    workflowId,
    args: [collect],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: DATASET_ID, value: collect.datasetId }],
  });
}

test('collects the source manifest and shows the run to operators', async () => {
  const collect = await input('local-sample');
  const handle = await start(collect);
  const result = await handle.result();
  await keepHistory(handle, 'http-source-succeeded');

  assert.equal(result.datasetId, 'ecommerce-behavior-sample');
  assert.equal(result.manifest.files.length, 2);
  assert.ok(result.manifest.files.every((file) => file.size > 0 && file.acceptsRanges));

  const description = await handle.describe();
  assert.equal(description.typedSearchAttributes.get(DATASET_ID), 'ecommerce-behavior-sample');
  assert.equal(description.typedSearchAttributes.get(COLLECTION_PHASE), 'done');
  assert.equal(description.typedSearchAttributes.get(COLLECTION_OUTCOME), 'succeeded');
  const progress = await handle.query(progressQuery);
  assert.deepEqual(progress, {
    datasetId: 'ecommerce-behavior-sample',
    phase: 'done',
    outcome: 'succeeded',
    collectionId: result.collectionId,
    files: 2,
    totalBytes: result.manifest.totalBytes,
    bytesCopied: result.manifest.totalBytes,
    objectsCopied: 2,
    percent: 100,
    jobName: result.transfer.jobName,
    operationName: result.transfer.operationName,
  });

  const listed = [];
  for await (const run of env.client.workflow.list({ query: `DatasetId = 'ecommerce-behavior-sample'` })) {
    listed.push(run);
  }
  assert.ok(
    listed.some((run) => run.workflowId === handle.workflowId),
    'the run is found by its dataset',
  );
});

test('the same collection started twice is one run', async () => {
  const collect = await input('local-sample', { bucket: 'coleta-twice', prefix: 'raw/' });
  origin.faults.set('/datasets/marketplace/2019-Nov.csv.gz', { delayMs: 1000, times: 1 });
  const first = await start(collect);
  const second = await start(collect);
  assert.equal(second.firstExecutionRunId, first.firstExecutionRunId);
  await first.result();
  origin.faults.clear();
});

test('a flaky source is retried with backoff until it answers', async () => {
  const collect = await input('local-sample', { bucket: 'coleta-flaky', prefix: 'raw/' });
  origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', { status: 503, times: 2 });
  try {
    const handle = await start(collect);
    const result = await handle.result();
    await keepHistory(handle, 'http-source-retried');
    assert.equal(result.manifest.files.length, 2);
    const history = await handle.fetchHistory();
    const started = history.events?.find((event) => event.activityTaskStartedEventAttributes);
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 3, 'two failed attempts, then success');
  } finally {
    origin.faults.clear();
  }
});

test('a missing file fails the run at once, naming the file', async () => {
  const collect = await input('local-sample', { bucket: 'coleta-missing', prefix: 'raw/' });
  origin.faults.set('/datasets/marketplace/2019-Nov.csv.gz', { status: 404 });
  try {
    const handle = await start(collect);
    await assert.rejects(handle.result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      const cause = error.cause?.cause;
      assert.ok(cause instanceof ApplicationFailure, String(cause));
      assert.equal(cause.type, 'SourceNotFound');
      assert.match(cause.message, /2019-Nov\.csv\.gz: the source has no such file/);
      return true;
    });
    await keepHistory(handle, 'http-source-missing-file');
    const history = await handle.fetchHistory();
    const scheduled = history.events?.flatMap((event) => {
      const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
      return type ? [type] : [];
    });
    assert.deepEqual(
      scheduled,
      ['accessSource', 'writeDocumentation', 'notifyOutcome'],
      'no transfer; the failure is documented, and told to whoever is on call',
    );
    const attempts = history.events?.filter((event) => event.activityTaskStartedEventAttributes) ?? [];
    assert.equal(attempts[0]?.activityTaskStartedEventAttributes?.attempt, 1, 'not retried');
    const description = await handle.describe();
    assert.equal(description.typedSearchAttributes.get(COLLECTION_OUTCOME), 'failed');
  } finally {
    origin.faults.clear();
  }
});

test('a Kaggle collection leaves no signed URL or credential in the history', async () => {
  const handle = await start(await input('local-kaggle'));
  const result = await handle.result();
  await keepHistory(handle, 'kaggle-source-succeeded');
  assert.equal(result.manifest.files.length, 2);
  const history = historyText(await handle.fetchHistory());
  assert.match(history, /datasetVersionNumber=8/, 'the payloads were decoded');
  // The transfer read the files at signed URLs, which are in the URL list in the bucket, and nowhere else.
  const [urlList] = await harness.storage.storage
    .bucket('coleta-test')
    .file(`raw/${result.collectionId}/urls.tsv`)
    .download();
  assert.match(urlList.toString(), /X-Goog-Signature=[0-9a-f]{16}/);
  for (const secret of ['X-Goog-Signature', KAGGLE_TEST_CREDENTIALS.key]) {
    assert.ok(!history.includes(secret), `"${secret}" is in the workflow history`);
  }
});

test('recorded histories replay on the current workflow code', async () => {
  const files = fs.readdirSync(HISTORIES).filter((file) => file.endsWith('.json'));
  assert.ok(files.length >= 4, `histories in ${HISTORIES}`);
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: quietLogger(),
  });
  const histories = files.map((file) => ({
    workflowId: path.basename(file, '.json'),
    history: History.fromObject(JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8')) as object),
  }));
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed.sort(), histories.map((h) => h.workflowId).sort());
});

/** Every string and every payload's bytes (decoded as UTF-8) in a history, one per line. */
function historyText(value: unknown, parts: string[] = []): string {
  if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') parts.push(value);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) historyText(item, parts);
  return parts.join('\n');
}
