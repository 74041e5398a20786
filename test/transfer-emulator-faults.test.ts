/**
 * Faults of the Storage Transfer Service emulator, set through its admin endpoint and seen through the
 * official client: errors for the next calls of a method (over gRPC and REST), a byte-rate limit with
 * counters that grow during a copy, an object that fails, and a service agent without permissions.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import type { Origin } from '../src/origin/server';
import { startTransferEmulator, type Emulator } from '../src/transfer-emulator/server';
import { smallSample, storageEmulator, testOrigin, type StorageEmulator } from './helpers/fixtures';
import { counter, readOperation, status, transferClient, waitDone, type Transport } from './helpers/transfer';

const PROJECT = 'coleta-test';
const BUCKET = 'faults-sink';
const CALL = { timeout: 5000, retry: null };

let storage: StorageEmulator;
let origin: Origin;
let sampleRoot: string;
let emulator: Emulator;
let admin: string;

before(async () => {
  storage = await storageEmulator();
  await storage.storage.createBucket(BUCKET);
  ({ root: sampleRoot } = await smallSample());
  origin = await testOrigin(sampleRoot);
  emulator = await startTransferEmulator({ storage: storage.storage });
  admin = `http://127.0.0.1:${emulator.restPort}/emulator/v1/faults`;
});
afterEach(() => fetch(admin, { method: 'DELETE' }));
after(async () => {
  await emulator?.close();
  await origin?.close();
  await storage?.stop();
});

async function setFaults(body: unknown): Promise<Response> {
  return fetch(admin, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

async function jobWith(client: StorageTransferServiceClient, name: string, files: string[]): Promise<string> {
  const lines = files.map((file) => `${origin.url}/datasets/marketplace/${file}`);
  await storage.storage
    .bucket(BUCKET)
    .file(`lists/${name}.tsv`)
    .save(`TsvHttpData-1.0\n${lines.join('\n')}\n`);
  await client.createTransferJob(
    {
      transferJob: {
        name: `transferJobs/${name}`,
        projectId: PROJECT,
        status: 'ENABLED',
        transferSpec: {
          httpDataSource: { listUrl: `${storage.url}/${BUCKET}/lists/${name}.tsv` },
          gcsDataSink: { bucketName: BUCKET, path: `${name}/` },
        },
      },
    },
    CALL,
  );
  return `transferJobs/${name}`;
}

for (const transport of ['grpc', 'rest'] as Transport[]) {
  describe(`method faults over ${transport}`, () => {
    test('UNAVAILABLE and RESOURCE_EXHAUSTED for the next N calls, then normal answers', async () => {
      const client = transferClient(transport, transport === 'grpc' ? emulator.grpcPort : emulator.restPort);
      try {
        const set = await setFaults({
          methods: [
            { method: 'GetGoogleServiceAccount', code: 'UNAVAILABLE', times: 2 },
            { method: 'CreateTransferJob', code: 'RESOURCE_EXHAUSTED', times: 1 },
          ],
        });
        assert.equal(set.status, 200);
        for (let i = 0; i < 2; i++) {
          await assert.rejects(
            client.getGoogleServiceAccount({ projectId: PROJECT }, CALL),
            (error: { code?: number }) => {
              assert.equal(error.code, 14);
              return true;
            },
          );
        }
        const [agent] = await client.getGoogleServiceAccount({ projectId: PROJECT }, CALL);
        assert.match(agent.accountEmail ?? '', /storage-transfer-service/);
        await assert.rejects(jobWith(client, `quota-${transport}`, ['2019-Oct.csv']), (error: { code?: number }) => {
          assert.equal(error.code, 8);
          return true;
        });
        await jobWith(client, `quota-${transport}`, ['2019-Oct.csv']);
      } finally {
        await client.close();
      }
    });
  });
}

describe('transfer faults', () => {
  let client: StorageTransferServiceClient;
  before(() => {
    client = transferClient('grpc', emulator.grpcPort);
  });
  after(() => client?.close());

  test('a byte-rate limit slows a copy, and its counters grow while it runs', async () => {
    const file = '2019-Oct.csv';
    const size = fs.statSync(path.join(sampleRoot, 'datasets/marketplace', file)).size;
    assert.equal((await setFaults({ bytesPerSecond: Math.ceil(size / 2) })).status, 200);
    const job = await jobWith(client, 'throttled', [file]);
    const started = Date.now();
    const [operation] = await client.runTransferJob({ jobName: job, projectId: PROJECT }, CALL);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [midway] = await client.operationsClient.getOperation({ name: operation.name } as never, CALL);
    assert.equal(midway.done, false, 'still copying after a second');
    const { metadata } = await waitDone(client, operation.name as string);
    assert.equal(status(metadata), 'SUCCESS');
    assert.ok(Date.now() - started >= 1500, `took ${Date.now() - started} ms for two seconds of bytes`);
    assert.equal(counter(metadata, 'bytesCopiedToSink'), size);
  });

  test('counters grow during a copy', async () => {
    const file = '2019-Nov.csv';
    const size = fs.statSync(path.join(sampleRoot, 'datasets/marketplace', file)).size;
    await setFaults({ bytesPerSecond: Math.ceil(size / 3) });
    const job = await jobWith(client, 'growing', [file]);
    const [operation] = await client.runTransferJob({ jobName: job, projectId: PROJECT }, CALL);
    const seen: number[] = [];
    for (let i = 0; i < 20 && seen.length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const { done, metadata } = await readOperation(client, operation.name as string);
      if (done) break;
      const bytes = counter(metadata, 'bytesCopiedToSink');
      if (bytes > 0 && bytes < size) seen.push(bytes);
    }
    assert.ok(seen.length >= 2, `partial counts seen: ${seen.join(', ')}`);
    assert.ok(
      seen.every((bytes, i) => i === 0 || bytes >= (seen[i - 1] as number)),
      'they only grow',
    );
    await waitDone(client, operation.name as string);
  });

  test('a chosen object fails, with its URL and code in errorBreakdowns', async () => {
    const url = `${origin.url}/datasets/marketplace/2019-Oct.csv.gz`;
    await setFaults({ objects: [{ url, code: 'UNAVAILABLE', message: 'the source went away' }] });
    const job = await jobWith(client, 'one-fails', ['2019-Oct.csv.gz', '2019-Nov.csv.gz']);
    const [operation] = await client.runTransferJob({ jobName: job, projectId: PROJECT }, CALL);
    const { metadata, error } = await waitDone(client, operation.name as string);
    assert.equal(status(metadata), 'FAILED');
    assert.equal(error?.code, 14);
    assert.equal(counter(metadata, 'objectsCopiedToSink'), 1);
    assert.deepEqual(metadata.errorBreakdowns?.[0]?.errorLogEntries?.[0], {
      url,
      errorDetails: ['the source went away'],
    });
  });

  test('a service agent without storage.buckets.get cannot create a job on the bucket', async () => {
    await setFaults({ missingPermissions: { [BUCKET]: ['storage.buckets.get'] } });
    const [agent] = await client.getGoogleServiceAccount({ projectId: PROJECT }, CALL);
    await assert.rejects(
      jobWith(client, 'no-bucket-access', ['2019-Oct.csv']),
      (error: { code?: number; message?: string }) => {
        assert.equal(error.code, 9);
        assert.ok(
          error.message?.includes(`${agent.accountEmail} does not have storage.buckets.get access`),
          error.message,
        );
        return true;
      },
    );
  });

  test('a service agent without storage.objects.create fails every object with PERMISSION_DENIED', async () => {
    const job = await jobWith(client, 'no-write', ['2019-Oct.csv']);
    await setFaults({ missingPermissions: { [BUCKET]: ['storage.objects.create'] } });
    const [operation] = await client.runTransferJob({ jobName: job, projectId: PROJECT }, CALL);
    const { metadata, error } = await waitDone(client, operation.name as string);
    assert.equal(status(metadata), 'FAILED');
    assert.equal(error?.code, 7);
    assert.equal(String(metadata.errorBreakdowns?.[0]?.errorCode), 'PERMISSION_DENIED');
    assert.match(
      metadata.errorBreakdowns?.[0]?.errorLogEntries?.[0]?.errorDetails?.[0] ?? '',
      /storage\.objects\.create/,
    );
  });

  test('the admin endpoint lists faults and refuses bad ones, naming the field', async () => {
    await setFaults({ bytesPerSecond: 1000 });
    const listed = (await (await fetch(admin)).json()) as { bytesPerSecond?: number };
    assert.equal(listed.bytesPerSecond, 1000);
    const bad = await setFaults({ methods: [{ method: 'RunTransferJob', code: 'NOT_A_CODE' }] });
    assert.equal(bad.status, 400);
    assert.match(
      ((await bad.json()) as { error: { message: string } }).error.message,
      /methods\[0\]\.code: must be one of/,
    );
    const badPermission = await setFaults({ missingPermissions: { b: ['storage.everything'] } });
    assert.equal(badPermission.status, 400);
  });
});
