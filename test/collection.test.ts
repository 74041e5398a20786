/**
 * The whole collection, end to end, on the real dev server with a real worker, against the storage
 * emulator, the transfer emulator and the origin: what lands in the bucket, the record beside it, what
 * operators see, and every way a run can go wrong.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { collectionWorkflowId } from '../src/collection';
import { presets } from '../src/dataset/presets';
import type { CollectionRecord } from '../src/record';
import { COLLECTION_OUTCOME, COLLECTION_PHASE, DATASET_ID } from '../src/search-attributes';
import { collectDataset, progressQuery, type CollectInput } from '../src/workflows';
import { collectionHarness, type CollectionHarness } from './helpers/fixtures';

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
