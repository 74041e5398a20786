/**
 * Incremental collection against the real stack: a run compares the source with the dataset's pointer to its
 * current copies (`current.json`) and transfers only what is new or changed. A second run with nothing new
 * makes no transfer job; a new month is the only file copied next time; a changed file lands beside its
 * earlier copy, which stays as it was; `full` copies everything; an unreadable pointer stops the run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { GoogleClients } from '../src/activities/google-clients';
import { makeWriteDocumentation, type WrittenRecord } from '../src/activities/write-documentation';
import { collectionWorkflowId } from '../src/collection';
import { presets } from '../src/dataset/presets';
import type { CurrentState } from '../src/incremental';
import type { CollectionRecord } from '../src/record';
import { MARKETPLACE_PATH } from '../src/sample/layout';
import { DATASET_ID } from '../src/search-attributes';
import { collectDataset, type CollectInput } from '../src/workflows';
import { collectionHarness, type CollectionHarness } from './helpers/fixtures';
import { transferClient } from './helpers/transfer';

const taskQueue = 'incremental-test';
const bucket = 'coleta-incremental';
const dataset = 'ecommerce-behavior-sample';
let harness: CollectionHarness;

before(async () => {
  harness = await collectionHarness(taskQueue);
  await harness.bucket(bucket);
});

after(() => harness?.stop());

/** The sample's months as the local preset names them, and any more given. */
function urls(...more: string[]): string[] {
  const preset = presets({ originUrl: harness.origin.url, kaggleApiUrl: '' }).find((p) => p.name === 'local-sample');
  assert.ok(preset?.source.kind === 'http');
  return [...preset.source.urls, ...more.map((name) => `${harness.origin.url}${MARKETPLACE_PATH}/${name}`)];
}

function input(sourceUrls: string[], options: { prefix?: string; full?: boolean } = {}): CollectInput {
  return {
    datasetId: dataset,
    source: { kind: 'http', urls: sourceUrls },
    sink: { bucket, prefix: options.prefix ?? 'raw/' },
    transfer: { pollIntervalMs: 200 },
    ...(options.full ? { full: true } : {}),
  };
}

/** Runs a collection to its end; a second collection of the same input is a new run, not an attachment. */
async function collect(collect: CollectInput) {
  const handle = await harness.env.client.workflow.start(collectDataset, {
    taskQueue,
    workflowId: `${collectionWorkflowId(collect)}-${Date.now()}`,
    args: [collect],
    typedSearchAttributes: [{ key: DATASET_ID, value: collect.datasetId }],
  });
  return { handle, result: await handle.result() };
}

async function readJson<T>(object: string): Promise<T> {
  const [bytes] = await harness.storage.storage.bucket(bucket).file(object).download();
  return JSON.parse(bytes.toString()) as T;
}

const pointerOf = (prefix = 'raw/') => readJson<CurrentState>(`${prefix}${dataset}/current.json`);
const recordOf = (collectionId: string, prefix = 'raw/') =>
  readJson<CollectionRecord>(`${prefix}${collectionId}/collection.json`);

/** The objects under a collection's data folder. */
async function dataObjects(collectionId: string, prefix = 'raw/'): Promise<string[]> {
  const [files] = await harness.storage.storage.bucket(bucket).getFiles({ prefix: `${prefix}${collectionId}/data/` });
  return files.map((file) => file.name);
}

/** The transfer jobs the service holds for a collection. */
async function jobsOf(collectionId: string): Promise<string[]> {
  const client = transferClient('grpc', harness.transfer.grpcPort);
  try {
    const [jobs] = await client.listTransferJobs({ filter: JSON.stringify({ projectId: 'coleta-local' }) }, {
      timeout: 5000,
      retry: null,
    } as never);
    return jobs.map((job) => job.name ?? '').filter((name) => name.endsWith(collectionId.replace('/', '-')));
  } finally {
    await client.close();
  }
}

/** The sample file `name` at the origin. */
const originFile = (name: string) => path.join(harness.sample.root, MARKETPLACE_PATH.slice(1), name);

describe('incremental collection', () => {
  let first: string;

  test("a dataset's first collection copies every file and points at them", async () => {
    const { result } = await collect(input(urls()));
    first = result.collectionId;
    assert.deepEqual(result.changes, { transferred: 2, unchanged: 0 });
    assert.equal(result.transfer.objectsCopied, 2);
    const pointer = await pointerOf();
    assert.equal(pointer.collectionId, first);
    assert.deepEqual(
      pointer.files.map((file) => [file.name, file.collectionId]),
      [
        ['2019-Oct.csv.gz', first],
        ['2019-Nov.csv.gz', first],
      ],
    );
    const objects = await dataObjects(first);
    for (const file of pointer.files) assert.ok(objects.includes(file.object.replace(`gs://${bucket}/`, '')));
  });

  let second: string;
  test('a second run with nothing new makes no transfer job and records that nothing changed', async () => {
    const { handle, result } = await collect(input(urls()));
    second = result.collectionId;
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(result.changes, { transferred: 0, unchanged: 2, previous: first });
    assert.equal(result.transfer.jobName, '');
    assert.deepEqual(await jobsOf(result.collectionId), []);
    assert.deepEqual(await dataObjects(result.collectionId), []);

    const history = JSON.stringify(await handle.fetchHistory());
    for (const step of ['launchTransfer', 'awaitTransfer', 'checkFile']) {
      assert.ok(!history.includes(`"${step}"`), `no ${step} activity was scheduled`);
    }
    const record = await recordOf(result.collectionId);
    assert.equal(record.outcome, 'succeeded');
    assert.equal(record.changes?.previous?.collectionId, first);
    assert.deepEqual(
      record.changes?.files.map((file) => file.change),
      ['unchanged', 'unchanged'],
    );
    assert.deepEqual(
      record.current?.map((file) => file.collectionId),
      [first, first],
    );
    const [markdown] = await harness.storage.storage
      .bucket(bucket)
      .file(`raw/${result.collectionId}/collection.md`)
      .download();
    assert.match(markdown.toString(), /Nothing changed: no transfer job was made/);
    assert.match(markdown.toString(), /Nothing was copied, so nothing was verified/);
    assert.doesNotMatch(markdown.toString(), /^## Data profile/m);
    // the pointer still names the copies of the first collection
    assert.equal((await pointerOf()).collectionId, result.collectionId);
    assert.deepEqual(
      (await pointerOf()).files.map((file) => file.collectionId),
      [first, first],
    );
  });

  let third: string;
  test('a new month added to the origin is the only file transferred next time', async () => {
    fs.copyFileSync(originFile('2019-Nov.csv.gz'), originFile('2019-Dec.csv.gz'));
    const { result } = await collect(input(urls('2019-Dec.csv.gz')));
    third = result.collectionId;
    assert.deepEqual(result.changes, { transferred: 1, unchanged: 2, previous: second });
    assert.equal(result.transfer.objectsCopied, 1);
    assert.equal(result.integrity.files, 1);
    const [urlList] = await harness.storage.storage.bucket(bucket).file(`raw/${third}/urls.tsv`).download();
    const listed = urlList.toString().trim().split('\n').slice(1);
    assert.equal(listed.length, 1);
    assert.match(listed[0] ?? '', /2019-Dec\.csv\.gz\t/);
    assert.deepEqual(await dataObjects(third), [
      `raw/${third}/data/${new URL(harness.origin.url).hostname}${MARKETPLACE_PATH}/2019-Dec.csv.gz`,
    ]);
    const pointer = await pointerOf();
    assert.deepEqual(
      pointer.files.map((file) => [file.name, file.collectionId]),
      [
        ['2019-Oct.csv.gz', first],
        ['2019-Nov.csv.gz', first],
        ['2019-Dec.csv.gz', third],
      ],
    );
  });

  test('a changed file lands beside its earlier copy, which stays as it was', async () => {
    const earlierObject = (await pointerOf()).files.find((file) => file.name === '2019-Nov.csv.gz')?.object ?? '';
    const [earlierBytes] = await harness.storage.storage
      .bucket(bucket)
      .file(earlierObject.replace(`gs://${bucket}/`, ''))
      .download();
    // the month is republished with its last row dropped
    const csv = zlib.gunzipSync(fs.readFileSync(originFile('2019-Nov.csv.gz'))).toString();
    const shorter = `${csv.trimEnd().split('\n').slice(0, -1).join('\n')}\n`;
    fs.writeFileSync(originFile('2019-Nov.csv.gz'), zlib.gzipSync(shorter));

    const { result } = await collect(input(urls('2019-Dec.csv.gz')));
    assert.deepEqual(result.changes, { transferred: 1, unchanged: 2, previous: third });
    const record = await recordOf(result.collectionId);
    const nov = record.changes?.files.find((file) => file.name === '2019-Nov.csv.gz');
    assert.equal(nov?.change, 'changed');
    assert.match(nov?.why ?? '', /size \d+ → \d+ bytes/);
    assert.equal(record.integrity?.files[0]?.rows, shorter.trimEnd().split('\n').length - 1);

    const [stillThere] = await harness.storage.storage
      .bucket(bucket)
      .file(earlierObject.replace(`gs://${bucket}/`, ''))
      .download();
    assert.ok(stillThere.equals(earlierBytes), 'the earlier copy is kept byte for byte');
    const pointer = await pointerOf();
    const current = pointer.files.find((file) => file.name === '2019-Nov.csv.gz');
    assert.equal(current?.collectionId, result.collectionId);
    assert.notEqual(current?.object, earlierObject);
    assert.equal(pointer.files.find((file) => file.name === '2019-Oct.csv.gz')?.collectionId, first);
  });

  test('a full collection copies every file again', async () => {
    const { result } = await collect(input(urls('2019-Dec.csv.gz'), { full: true }));
    assert.equal(result.changes?.transferred, 3);
    assert.equal(result.transfer.objectsCopied, 3);
    assert.ok((await pointerOf()).files.every((file) => file.collectionId === result.collectionId));
  });

  test('an unreadable pointer stops the run before anything is transferred, and names it', async () => {
    await harness.storage.storage.bucket(bucket).file(`broken/${dataset}/current.json`).save('{"not": "a pointer"}');
    const handle = await harness.env.client.workflow.start(collectDataset, {
      taskQueue,
      workflowId: `incremental-broken-${Date.now()}`,
      args: [input(urls(), { prefix: 'broken/' })],
    });
    const error = await handle.result().then(
      () => assert.fail('the run succeeded'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof WorkflowFailedError);
    let cause: unknown = error.cause;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure && cause.type)) cause = cause.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'CurrentUnreadable');
    assert.match(cause.message, /gs:\/\/coleta-incremental\/broken\/ecommerce-behavior-sample\/current\.json/);
    assert.match(cause.message, /--full/);
    const description = await handle.describe();
    const [files] = await harness.storage.storage.bucket(bucket).getFiles({ prefix: 'broken/' });
    assert.ok(
      files.every((file) => !file.name.includes('/data/')),
      `nothing was copied (${description.workflowId})`,
    );
  });
});

describe('moving the pointer', () => {
  const record = (collectionId: string): CollectionRecord => ({
    recordVersion: 1,
    datasetId: dataset,
    collectionId,
    workflowId: 'w',
    runId: 'r',
    outcome: 'succeeded',
    startedAt: new Date().toISOString(),
    sink: { bucket, folder: `moves/${collectionId}/`, dataPath: `moves/${collectionId}/data/` },
    transfer: {},
    transformations: [],
    problems: [],
  });
  const state = (collectionId: string): CurrentState => ({
    currentVersion: 1,
    datasetId: dataset,
    collectionId,
    record: `gs://${bucket}/moves/${collectionId}/collection.json`,
    updatedAt: new Date().toISOString(),
    files: [],
  });
  const pointer = `gs://${bucket}/moves/${dataset}/current.json`;

  test('is refused when another collection moved it since the run read it, and the record says so', async () => {
    const write = makeWriteDocumentation(new GoogleClients(harness.google));
    const activity = new MockActivityEnvironment();
    const run = async (...args: Parameters<typeof write>): Promise<WrittenRecord> =>
      (await activity.run(write, ...args)) as WrittenRecord;
    const first = await run(record('a'), { pointer, generation: 0, state: state('a') });
    assert.equal(first.pointer, 'moved');
    // b read the pointer before a wrote it (generation 0): its move is refused, and a's pointer stays
    const late = record('b');
    const second = await run(late, { pointer, generation: 0, state: state('b') });
    assert.equal(second.pointer, 'conflict');
    assert.equal((await pointerOf('moves/')).collectionId, 'a');
    const written = await readJson<CollectionRecord>('moves/b/collection.json');
    assert.match(written.problems[0]?.problem ?? '', /another collection moved .*current\.json while this one ran/);
    // a retry of a's write, whose answer was lost, finds its own pointer: moved, not a conflict
    const retry = await run(record('a'), { pointer, generation: 0, state: state('a') });
    assert.equal(retry.pointer, 'moved');
  });
});
