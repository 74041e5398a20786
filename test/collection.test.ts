/**
 * The whole collection, end to end, on the real dev server with a real worker, against the storage
 * emulator, the transfer emulator and the origin: what lands in the bucket, the record beside it, what
 * operators see, and every way a run can go wrong.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { GoogleClients } from '../src/activities/google-clients';
import { makeCheckFile, type CheckFileInput } from '../src/activities/check-file';
import { collectionWorkflowId } from '../src/collection';
import { presets } from '../src/dataset/presets';
import type { CollectionRecord, FileIntegrity } from '../src/record';
import { COLLECTION_OUTCOME, COLLECTION_PHASE, DATASET_ID } from '../src/search-attributes';
import type { Phase } from '../src/workflows/collect-dataset';
import { collectDataset, PHASES, progressQuery, type CollectInput } from '../src/workflows';
import { collectionHarness, tempDir, testOrigin, type CollectionHarness } from './helpers/fixtures';
import { transferClient } from './helpers/transfer';

let harness: CollectionHarness;
const taskQueue = 'collection-test';

before(async () => {
  harness = await collectionHarness(taskQueue);
});

after(() => harness?.stop());

async function input(bucket: string, preset = 'local-sample'): Promise<CollectInput> {
  const { origin } = harness;
  const found = presets({ originUrl: origin.url, kaggleApiUrl: `${origin.url}/api/v1` }).find((p) => p.name === preset);
  assert.ok(found);
  await harness.bucket(bucket);
  return {
    datasetId: found.datasetId,
    source: found.source,
    sink: { bucket, prefix: 'raw/' },
    transfer: { pollIntervalMs: 200 },
  };
}

function start(collect: CollectInput) {
  return harness.env.client.workflow.start(collectDataset, {
    taskQueue,
    workflowId: collectionWorkflowId(collect),
    args: [collect],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: DATASET_ID, value: collect.datasetId }],
  });
}

async function readJson<T>(bucket: string, object: string): Promise<T> {
  const [bytes] = await harness.storage.storage.bucket(bucket).file(object).download();
  return JSON.parse(bytes.toString()) as T;
}

test('a collection copies every file, proves it intact and documents it', async () => {
  const collect = await input('coleta-e2e');
  const handle = await start(collect);
  const result = await handle.result();

  assert.equal(result.outcome, 'succeeded');
  assert.equal(result.transfer.status, 'SUCCESS');
  assert.equal(result.transfer.objectsCopied, 2);
  assert.equal(result.integrity.files, 2);
  assert.ok(result.integrity.rows > 1000);
  assert.equal(result.integrity.invalidRows, 0);

  const [files] = await harness.storage.storage.bucket('coleta-e2e').getFiles({ prefix: 'raw/' });
  const names = files.map((file) => file.name).sort();
  const folder = `raw/${result.collectionId}/`;
  assert.deepEqual(names, [
    `${folder}collection.json`,
    `${folder}collection.md`,
    `${folder}data/127.0.0.1/datasets/marketplace/2019-Nov.csv.gz`,
    `${folder}data/127.0.0.1/datasets/marketplace/2019-Oct.csv.gz`,
    `${folder}urls.tsv`,
    // the dataset's pointer to its current copies, beside its collections
    'raw/ecommerce-behavior-sample/current.json',
  ]);
  const record = await readJson<CollectionRecord>('coleta-e2e', `${folder}collection.json`);
  assert.equal(record.outcome, 'succeeded');
  assert.equal(record.transfer.jobName, result.transfer.jobName);
  assert.equal(record.transfer.status, 'SUCCESS');
  assert.equal(record.integrity?.ok, true);
  // The origin publishes no checksums (as REES46's server does not), so they are compared with the sample's.
  for (const file of record.integrity?.files ?? []) {
    const generated = harness.sample.manifest.files.find((candidate) => candidate.path.endsWith(file.name));
    assert.equal(file.md5, generated?.md5, file.name);
    assert.equal(file.crc32c, generated?.crc32c, file.name);
    assert.ok(file.checksums.every((check) => check.expectedFrom === 'storage' && check.match));
  }

  const description = await handle.describe();
  assert.equal(description.typedSearchAttributes.get(COLLECTION_PHASE), 'done');
  assert.equal(description.typedSearchAttributes.get(COLLECTION_OUTCOME), 'succeeded');
  const progress = await handle.query(progressQuery);
  assert.equal(progress.percent, 100);
  assert.equal(progress.bytesCopied, result.manifest.totalBytes);
});

/** Waits until the run has reached `phase` (or a later one). */
async function reach(handle: WorkflowHandle<typeof collectDataset>, phase: Phase, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress && PHASES.indexOf(progress.phase) >= PHASES.indexOf(phase)) return progress;
    if (Date.now() > deadline) throw new Error(`the run did not reach ${phase}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The failure a run ended with: its innermost application failure. */
async function failureOf(handle: WorkflowHandle<typeof collectDataset>): Promise<ApplicationFailure> {
  try {
    await handle.result();
  } catch (error) {
    assert.ok(error instanceof WorkflowFailedError, String(error));
    let found: ApplicationFailure | undefined;
    for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
      if (cause instanceof ApplicationFailure) found = cause;
    }
    assert.ok(found, `no application failure in ${String(error)}`);
    return found;
  }
  assert.fail('the run succeeded');
}

/** The jobs the transfer service has for a collection, and the operations of each. */
async function transfersOf(collectionId: string) {
  const client = transferClient('grpc', harness.transfer.grpcPort);
  try {
    const call = { timeout: 5000, retry: null } as never;
    const [jobs] = await client.listTransferJobs({ filter: JSON.stringify({ projectId: 'coleta-local' }) }, call);
    const ours = jobs.filter((job) => job.name?.endsWith(collectionId.replace('/', '-')));
    const operations: string[] = [];
    for (const job of ours) {
      const [listed] = (await client.operationsClient.listOperations(
        {
          name: 'transferOperations',
          filter: JSON.stringify({ projectId: 'coleta-local', jobNames: [job.name] }),
        } as never,
        call,
      )) as unknown as [{ name: string }[]];
      operations.push(...listed.map((operation) => operation.name));
    }
    return { jobs: ours.map((job) => job.name), operations };
  } finally {
    await client.close();
  }
}

async function recordOf(bucket: string, collectionId: string): Promise<CollectionRecord> {
  return readJson<CollectionRecord>(bucket, `raw/${collectionId}/collection.json`);
}

test('preflight stops a run whose service agent lacks a permission, naming the account and role', async () => {
  const collect = await input('coleta-no-grant');
  harness.transfer.faults.set({ missingPermissions: { 'coleta-no-grant': ['storage.objects.create'] } });
  try {
    const handle = await start(collect);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'ServiceAgentLacksPermission');
    assert.match(failure.message, /project-\d+@storage-transfer-service\.iam\.gserviceaccount\.com/);
    assert.match(failure.message, /lacks storage\.objects\.create on gs:\/\/coleta-no-grant/);
    assert.match(failure.message, /roles\/storage\.legacyBucketWriter/);
    const { collectionId } = await handle.query(progressQuery);
    assert.deepEqual(await transfersOf(collectionId), { jobs: [], operations: [] }, 'no job was made');
    const record = await recordOf('coleta-no-grant', collectionId);
    assert.equal(record.outcome, 'failed');
    assert.equal(record.failure?.step, 'preflight');
  } finally {
    harness.transfer.faults.clear();
  }
});

test('a bucket that does not exist fails the run before any job exists', async () => {
  const collect = await input('coleta-e2e');
  collect.sink.bucket = 'coleta-nowhere';
  const failure = await failureOf(await start(collect));
  assert.equal(failure.type, 'BucketNotFound');
  assert.match(failure.message, /gs:\/\/coleta-nowhere does not exist/);
});

test('a source file gone (404) fails the run at source access, documented, with no transfer', async () => {
  const collect = await input('coleta-gone');
  harness.origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', { status: 404 });
  try {
    const handle = await start(collect);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'SourceNotFound');
    const { collectionId } = await handle.query(progressQuery);
    const record = await recordOf('coleta-gone', collectionId);
    assert.equal(record.outcome, 'failed');
    assert.equal(record.failure?.step, 'source-access');
    assert.equal(record.source, undefined);
    assert.deepEqual(await transfersOf(collectionId), { jobs: [], operations: [] });
    // the run keeps the phase it failed in, so that filters by phase find it
    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(COLLECTION_PHASE), 'source-access');
    assert.equal(attributes.get(COLLECTION_OUTCOME), 'failed');
  } finally {
    harness.origin.faults.clear();
  }
});

test('a transfer that FAILs ends the run with the error breakdown, recorded', async () => {
  const collect = await input('coleta-failing');
  const url = `${harness.origin.url}/datasets/marketplace/2019-Nov.csv.gz`;
  harness.transfer.faults.set({ objects: [{ url, code: 'NOT_FOUND', message: 'the origin answered 404' }] });
  try {
    const handle = await start(collect);
    const failure = await failureOf(handle);
    await keepHistory(handle, 'transfer-failed');
    assert.equal(failure.type, 'TransferFailed');
    assert.match(failure.message, /ended FAILED/);
    assert.match(
      failure.message,
      /1 NOT_FOUND \(e\.g\. http:\/\/127\.0\.0\.1:\d+\/datasets\/marketplace\/2019-Nov\.csv\.gz/,
    );
    const { collectionId } = await handle.query(progressQuery);
    const record = await recordOf('coleta-failing', collectionId);
    assert.equal(record.outcome, 'failed');
    assert.equal(record.transfer.status, 'FAILED');
    assert.equal(record.transfer.errorBreakdowns?.[0]?.errorCode, 'NOT_FOUND');
    assert.equal(record.integrity, undefined, 'nothing is verified after a failed transfer');
    const [markdown] = await harness.storage.storage
      .bucket('coleta-failing')
      .file(`raw/${collectionId}/collection.md`)
      .download();
    assert.match(markdown.toString(), /\*\*Do not use this collection\.\*\*/);
    assert.match(markdown.toString(), /1 × NOT_FOUND/);
  } finally {
    harness.transfer.faults.clear();
  }
});

test('a file that changed size after source access fails the transfer, never accepted', async () => {
  const root = tempDir('changing-origin');
  fs.cpSync(harness.sample.root, root, { recursive: true });
  const origin = await testOrigin(root);
  try {
    const collect = await input('coleta-changed');
    collect.source = { kind: 'http', urls: [`${origin.url}/datasets/marketplace/2019-Oct.csv.gz`] };
    // One transient refusal holds the launch back two seconds: time to change the file after source access.
    harness.transfer.faults.set({ methods: [{ method: 'CreateTransferJob', code: 'UNAVAILABLE', times: 1 }] });
    const handle = await start(collect);
    await reach(handle, 'preflight');
    fs.appendFileSync(path.join(root, 'datasets/marketplace/2019-Oct.csv.gz'), 'more bytes');
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'TransferFailed');
    assert.match(failure.message, /the URL list gives \d+ bytes, the source sent \d+/);
    const { collectionId } = await handle.query(progressQuery);
    const [files] = await harness.storage.storage
      .bucket('coleta-changed')
      .getFiles({ prefix: `raw/${collectionId}/data/` });
    assert.deepEqual(files, [], 'the mismatched object is not left in the sink');
  } finally {
    harness.transfer.faults.clear();
    await origin.close();
  }
});

test('a refusal while polling ends the run as TransferRefused, without retries, and cancels the transfer', async () => {
  const collect = await input('coleta-refused');
  harness.transfer.faults.set({
    bytesPerSecond: 50_000,
    methods: [{ method: 'GetOperation', code: 'PERMISSION_DENIED', times: 1 }],
  });
  try {
    const handle = await start(collect);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'TransferRefused');
    assert.match(failure.message, /^GetOperation transferOperations\/\S+: 7 PERMISSION_DENIED: injected fault/);
    const { collectionId } = await handle.query(progressQuery);
    const record = await recordOf('coleta-refused', collectionId);
    assert.equal(record.failure?.step, 'transfer');
    assert.equal(record.transfer.cancelledByRun, true, 'the transfer was cancelled in the service');
    const history = await handle.fetchHistory();
    const polls = history.events?.filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitTransfer',
    );
    assert.equal(polls?.length, 1);
    const attempts = history.events
      ?.filter((event) => event.activityTaskStartedEventAttributes)
      .map((event) => event.activityTaskStartedEventAttributes?.attempt);
    assert.ok(
      attempts?.every((attempt) => attempt === 1),
      `no activity was retried: ${String(attempts)}`,
    );
  } finally {
    harness.transfer.faults.clear();
  }
});

test('transient errors of the transfer service are ridden out and recorded: one job, one operation', async () => {
  const collect = await input('coleta-transient');
  harness.transfer.faults.set({
    methods: [
      { method: 'CreateTransferJob', code: 'RESOURCE_EXHAUSTED', times: 1 },
      { method: 'RunTransferJob', code: 'UNAVAILABLE', times: 1 },
      { method: 'GetOperation', code: 'UNAVAILABLE', times: 3 },
    ],
  });
  try {
    const handle = await start(collect);
    const result = await handle.result();
    await keepHistory(handle, 'transient-errors');
    assert.equal(result.outcome, 'succeeded');
    const record = await recordOf('coleta-transient', result.collectionId);
    const problems = record.problems.map((problem) => `${problem.problem} -> ${problem.resolution}`);
    assert.ok(
      problems.some((text) => /failed 2 launch attempt/.test(text)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((text) => /adopted transferJobs\//.test(text)),
      problems.join('\n'),
    );
    assert.equal(
      problems.filter((text) => /GetOperation answered UNAVAILABLE -> retried after/.test(text)).length,
      3,
      problems.join('\n'),
    );
    assert.deepEqual(await transfersOf(result.collectionId), {
      jobs: [result.transfer.jobName],
      operations: [result.transfer.operationName],
    });
  } finally {
    harness.transfer.faults.clear();
  }
});

test('cancelling a run cancels its transfer in the service, waits for it, and records it', async () => {
  const collect = await input('coleta-cancel');
  harness.transfer.faults.set({ bytesPerSecond: 10_000 });
  try {
    const handle = await start(collect);
    const progress = await reach(handle, 'transfer');
    await handle.cancel();
    await assert.rejects(handle.result(), (error: unknown) => {
      assert.ok(error instanceof WorkflowFailedError);
      assert.ok(error.cause instanceof CancelledFailure, String(error.cause));
      return true;
    });
    await keepHistory(handle, 'cancelled');
    const record = await recordOf('coleta-cancel', progress.collectionId);
    assert.equal(record.outcome, 'cancelled');
    assert.equal(record.transfer.status, 'ABORTED');
    assert.equal(record.transfer.cancelledByRun, true);
    const description = await handle.describe();
    assert.equal(description.typedSearchAttributes.get(COLLECTION_OUTCOME), 'cancelled');
    const client = transferClient('grpc', harness.transfer.grpcPort);
    try {
      const [operation] = await client.operationsClient.getOperation({ name: progress.operationName } as never);
      assert.equal(operation.done, true, 'the operation has stopped in the service');
    } finally {
      await client.close();
    }
  } finally {
    harness.transfer.faults.clear();
  }
});

test('a restart of the transfer service in the middle of a transfer does not stop the run', async () => {
  const collect = await input('coleta-restart');
  harness.transfer.faults.set({ bytesPerSecond: 20_000 });
  const handle = await start(collect);
  await reach(handle, 'transfer');
  await new Promise((resolve) => setTimeout(resolve, 500));
  await harness.restartTransfer();
  harness.transfer.faults.set({ bytesPerSecond: 50_000 });
  try {
    const result = await handle.result();
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.integrity.invalidRows, 0);
    assert.deepEqual(await transfersOf(result.collectionId), {
      jobs: [result.transfer.jobName],
      operations: [result.transfer.operationName],
    });
  } finally {
    harness.transfer.faults.clear();
  }
});

test('an integrity check finds a wrong checksum, a wrong size and bad rows, and marks the object', async () => {
  await harness.bucket('coleta-integrity');
  const bucket = harness.storage.storage.bucket('coleta-integrity');
  const good = harness.sample.manifest.files.find((file) => file.path.endsWith('2019-Oct.csv.gz'));
  assert.ok(good);
  const header = 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n';
  const bad = `${header}2019-10-01 00:00:00 UTC,view,1,2,,,1.5,3,\n2019-10-01 00:00:01 UTC,glance,1,2,,,1.5,3,\n`;
  await bucket.file('raw/bad.csv').save(bad, { resumable: false });
  const clients = new GoogleClients(harness.google);
  const checkFile = makeCheckFile(clients, 1);
  const run = async (request: CheckFileInput) =>
    (await new MockActivityEnvironment().run(checkFile, request)) as FileIntegrity;
  try {
    const result = await run({
      bucket: 'coleta-integrity',
      object: 'gs://coleta-integrity/raw/bad.csv',
      file: {
        name: 'bad.csv',
        url: 'http://example.test/bad.csv',
        size: Buffer.byteLength(bad) + 1,
        md5: good.md5,
        acceptsRanges: true,
        packaging: 'none' as const,
      },
    });
    assert.equal(result.ok, false);
    assert.equal(result.rows, 2);
    assert.equal(result.invalidRows, 1);
    assert.ok(result.problems.some((problem) => /size is \d+ bytes, the source published \d+/.test(problem)));
    assert.ok(result.problems.some((problem) => /MD5 of the bytes is .*, the source published/.test(problem)));
    assert.equal(result.violations?.find((violation) => violation.kind === 'event_type')?.examples[0]?.line, 3);
    const [metadata] = await bucket.file('raw/bad.csv').getMetadata();
    assert.equal(metadata.metadata?.['coleta-integrity'], 'failed');
    assert.equal(result.marked, true);
    assert.equal(result.packaging, 'none');

    const missing = await run({
      bucket: 'coleta-integrity',
      object: 'gs://coleta-integrity/raw/absent.csv',
      file: {
        name: 'absent.csv',
        url: 'http://example.test/absent.csv',
        size: 1,
        acceptsRanges: true,
        packaging: 'none' as const,
      },
    });
    assert.deepEqual(missing.problems, ['gs://coleta-integrity/raw/absent.csv is not in the bucket']);
  } finally {
    await clients.close();
  }
});

test('a worker killed by SIGKILL while polling is replaced: the run ends with one job, one operation', async () => {
  // The worker of this process steps aside: the run is served by worker processes, the first one killed.
  await harness.stopWorker();
  const worker = () =>
    spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'src', 'worker.ts')], {
      env: { ...process.env, ...harness.workerEnv },
      stdio: 'ignore',
    });
  const collect = await input('coleta-sigkill');
  harness.transfer.faults.set({ bytesPerSecond: 15_000 });
  const first = worker();
  let second: ReturnType<typeof worker> | undefined;
  try {
    const handle = await start(collect);
    await reach(handle, 'transfer', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    second = worker();
    const result = await handle.result();
    await keepHistory(handle, 'worker-killed');
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(await transfersOf(result.collectionId), {
      jobs: [result.transfer.jobName],
      operations: [result.transfer.operationName],
    });
    const history = await handle.fetchHistory();
    const polls = history.events?.filter(
      (event) => event.activityTaskStartedEventAttributes && activityType(history, event) === 'awaitTransfer',
    );
    assert.ok((polls?.[0]?.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2, 'polling was retried');
  } finally {
    harness.transfer.faults.clear();
    first.kill('SIGKILL');
    second?.kill('SIGTERM');
    if (second) await new Promise((resolve) => second?.once('exit', resolve));
  }
});

function activityType(history: temporal.api.history.v1.IHistory, started: temporal.api.history.v1.IHistoryEvent) {
  const scheduledId = Number(started.activityTaskStartedEventAttributes?.scheduledEventId);
  const scheduled = history.events?.find((event) => Number(event.eventId) === scheduledId);
  return scheduled?.activityTaskScheduledEventAttributes?.activityType?.name;
}

/**
 * Histories of these runs, kept for the replay test in `workflow.test.ts` (`COLETA_RECORD_HISTORIES=1`).
 */
async function keepHistory(handle: WorkflowHandle<typeof collectDataset>, name: string) {
  if (!process.env.COLETA_RECORD_HISTORIES) return;
  const { History } = temporal.api.history.v1;
  const history = History.toObject(History.fromObject(await handle.fetchHistory()), {
    longs: String,
    enums: String,
    bytes: String,
  });
  fs.writeFileSync(path.join(__dirname, 'histories', `${name}.json`), `${JSON.stringify(history, null, 1)}\n`);
}
