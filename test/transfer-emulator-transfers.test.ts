/**
 * Runs of transfer jobs on the Storage Transfer Service emulator, with the official client: real HTTP
 * transfers from the origin into the storage emulator (fake-gcs-server), their counters and error
 * breakdowns, one active operation per job, cancellation, pause and resume, listing, and a restart in the
 * middle of a transfer.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import type { Origin } from '../src/origin/server';
import { startTransferEmulator, type Emulator } from '../src/transfer-emulator/server';
import { smallSample, storageEmulator, tempDir, testOrigin, type StorageEmulator } from './helpers/fixtures';
import { counter, status, transferClient, waitDone, type Transport } from './helpers/transfer';

const PROJECT = 'coleta-test';
const BUCKET = 'sts-sink';
const CALL = { timeout: 5000, retry: null };
/**
 * The code the client reports for FAILED_PRECONDITION: over REST the service answers HTTP 400, which
 * google-gax maps to INVALID_ARGUMENT (3), as it does with the real service.
 */
const FAILED_PRECONDITION: Record<Transport, number> = { grpc: 9, rest: 3 };
const FILES = ['2019-Oct.csv.gz', '2019-Nov.csv.gz', '2019-Oct.csv'];

let storage: StorageEmulator;
let origin: Origin;
let sampleRoot: string;
let stateFile: string;
let emulator: Emulator;

before(async () => {
  storage = await storageEmulator();
  await storage.storage.createBucket(BUCKET);
  ({ root: sampleRoot } = await smallSample());
  origin = await testOrigin(sampleRoot);
  stateFile = path.join(tempDir('sts-state'), 'state.json');
  emulator = await startTransferEmulator({ stateFile, storage: storage.storage });
});

after(async () => {
  await emulator?.close();
  await origin?.close();
  await storage?.stop();
});

function md5Of(file: string): string {
  return createHash('md5')
    .update(fs.readFileSync(path.join(sampleRoot, 'datasets/marketplace', file)))
    .digest('base64');
}

/** Writes a URL list into the bucket and returns the URL the emulator reads it from. */
async function urlList(name: string, lines: string[]): Promise<string> {
  await storage.storage
    .bucket(BUCKET)
    .file(`lists/${name}.tsv`)
    .save(['TsvHttpData-1.0', ...lines].join('\n') + '\n');
  return `${storage.url}/${BUCKET}/lists/${name}.tsv`;
}

function listLine(file: string, md5 = md5Of(file)): string {
  const size = fs.statSync(path.join(sampleRoot, 'datasets/marketplace', file)).size;
  return `${origin.url}/datasets/marketplace/${file}\t${size}\t${md5}`;
}

async function createJob(client: StorageTransferServiceClient, name: string, listUrl: string, sinkPath = `${name}/`) {
  await client.createTransferJob(
    {
      transferJob: {
        name: `transferJobs/${name}`,
        projectId: PROJECT,
        status: 'ENABLED',
        transferSpec: { httpDataSource: { listUrl }, gcsDataSink: { bucketName: BUCKET, path: sinkPath } },
      },
    },
    CALL,
  );
}

for (const transport of ['grpc', 'rest'] as Transport[]) {
  describe(`a run over ${transport}`, () => {
    let client: StorageTransferServiceClient;
    before(() => {
      client = transferClient(transport, transport === 'grpc' ? emulator.grpcPort : emulator.restPort);
    });
    after(() => client?.close());

    test('copies every URL byte-identical into <sink path><host>/<path>, with its counters', async () => {
      const job = `copy-${transport}`;
      await createJob(
        client,
        job,
        await urlList(
          job,
          FILES.map((file) => listLine(file)),
        ),
      );
      const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      assert.equal(operation.name, `transferOperations/transferJobs-${job}-1`);
      const { metadata, error } = await waitDone(client, operation.name as string);
      assert.equal(error ?? undefined, undefined);
      assert.equal(status(metadata), 'SUCCESS');
      const bytes = FILES.reduce(
        (sum, file) => sum + fs.statSync(path.join(sampleRoot, 'datasets/marketplace', file)).size,
        0,
      );
      assert.equal(counter(metadata, 'objectsFoundFromSource'), 3);
      assert.equal(counter(metadata, 'bytesFoundFromSource'), bytes);
      assert.equal(counter(metadata, 'objectsCopiedToSink'), 3);
      assert.equal(counter(metadata, 'bytesCopiedToSink'), bytes);
      assert.equal(metadata.transferJobName, `transferJobs/${job}`);
      for (const file of FILES) {
        const [contents] = await storage.storage
          .bucket(BUCKET)
          .file(`${job}/127.0.0.1/datasets/marketplace/${file}`)
          .download();
        assert.equal(createHash('md5').update(contents).digest('base64'), md5Of(file), file);
      }
      const [got] = await client.getTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      assert.equal(got.latestOperationName, operation.name);
    });
  });
}

for (const transport of ['grpc', 'rest'] as Transport[]) {
  describe(`runs over ${transport}`, () => {
    let client: StorageTransferServiceClient;
    before(() => {
      client = transferClient(transport, transport === 'grpc' ? emulator.grpcPort : emulator.restPort);
    });
    after(() => client?.close());

    test('a second run skips what is already there, and lands under the same names', async () => {
      const job = `sync-${transport}`;
      await createJob(client, job, await urlList(job, [listLine(FILES[0] as string)]));
      const [first] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      await waitDone(client, first.name as string);
      const [second] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      assert.equal(second.name, `transferOperations/transferJobs-${job}-2`);
      const { metadata } = await waitDone(client, second.name as string);
      assert.equal(status(metadata), 'SUCCESS');
      assert.equal(counter(metadata, 'objectsCopiedToSink'), 0);
      assert.equal(counter(metadata, 'objectsFromSourceSkippedBySync'), 1);
    });

    test('a dropped connection is resumed with a Range request, and the object lands whole', async () => {
      const logged: string[] = [];
      const flaky = await testOrigin(sampleRoot, (line) => logged.push(line));
      try {
        const file = '2019-Oct.csv';
        flaky.faults.set(`/datasets/marketplace/${file}`, { dropAfterBytes: 100_000, times: 1 });
        const size = fs.statSync(path.join(sampleRoot, 'datasets/marketplace', file)).size;
        const job = `resumed-${transport}`;
        await createJob(
          client,
          job,
          await urlList(job, [`${flaky.url}/datasets/marketplace/${file}\t${size}\t${md5Of(file)}`]),
        );
        const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
        const { metadata } = await waitDone(client, operation.name as string);
        assert.equal(status(metadata), 'SUCCESS');
        assert.equal(counter(metadata, 'bytesCopiedToSink'), size);
        const [contents] = await storage.storage
          .bucket(BUCKET)
          .file(`${job}/127.0.0.1/datasets/marketplace/${file}`)
          .download();
        assert.equal(createHash('md5').update(contents).digest('base64'), md5Of(file));
        const gets = logged.filter((line) => line.includes(`/datasets/marketplace/${file}`));
        assert.equal(gets.length, 2, gets.join('\n'));
        assert.match(gets[1] ?? '', / 206 /, 'the second request asked for the rest');
      } finally {
        await flaky.close();
      }
    });

    test('overwriteWhen NEVER keeps what is in the sink; ALWAYS copies again', async () => {
      for (const [overwriteWhen, copied, skipped] of [
        ['NEVER', 0, 1],
        ['ALWAYS', 1, 0],
      ] as const) {
        const job = `overwrite-${overwriteWhen.toLowerCase()}-${transport}`;
        const objectName = `${job}/127.0.0.1/datasets/marketplace/2019-Nov.csv`;
        await storage.storage.bucket(BUCKET).file(objectName).save('an earlier, different copy');
        await client.createTransferJob(
          {
            transferJob: {
              name: `transferJobs/${job}`,
              projectId: PROJECT,
              status: 'ENABLED',
              transferSpec: {
                httpDataSource: { listUrl: await urlList(job, [listLine('2019-Nov.csv')]) },
                gcsDataSink: { bucketName: BUCKET, path: `${job}/` },
                transferOptions: { overwriteWhen },
              },
            },
          },
          CALL,
        );
        const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
        const { metadata } = await waitDone(client, operation.name as string);
        assert.equal(counter(metadata, 'objectsCopiedToSink'), copied, overwriteWhen);
        assert.equal(counter(metadata, 'objectsFromSourceSkippedBySync'), skipped, overwriteWhen);
        const [contents] = await storage.storage.bucket(BUCKET).file(objectName).download();
        assert.equal(contents.toString() === 'an earlier, different copy', overwriteWhen === 'NEVER');
      }
    });

    test('one active operation per job', async () => {
      const job = `busy-${transport}`;
      await createJob(client, job, await urlList(job, [listLine('2019-Nov.csv')]));
      origin.faults.set('/datasets/marketplace/2019-Nov.csv', { delayMs: 1500, times: 1 });
      try {
        const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
        await assert.rejects(
          client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL),
          (error: { code?: number; message?: string }) => {
            assert.equal(error.code, FAILED_PRECONDITION[transport]);
            assert.match(error.message ?? '', /already has an active operation/);
            return true;
          },
        );
        const { metadata } = await waitDone(client, operation.name as string);
        assert.equal(status(metadata), 'SUCCESS');
      } finally {
        origin.faults.clear();
      }
    });

    test('an MD5 or size mismatch, or a missing URL, fails that object with its URL in errorBreakdowns', async () => {
      const job = `mismatch-${transport}`;
      const wrongMd5 = Buffer.alloc(16, 7).toString('base64');
      const missing = `${origin.url}/datasets/marketplace/2030-Jan.csv.gz`;
      await createJob(
        client,
        job,
        await urlList(job, [
          listLine('2019-Oct.csv.gz', wrongMd5),
          `${missing}\t10\t${wrongMd5}`,
          `${origin.url}/datasets/marketplace/2019-Oct.csv\t12\t${md5Of('2019-Oct.csv')}`,
          listLine('2019-Nov.csv.gz'),
        ]),
      );
      const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      const { metadata, error } = await waitDone(client, operation.name as string);
      assert.equal(status(metadata), 'FAILED');
      assert.match(error?.message ?? '', /3 errors in the transfer/);
      assert.equal(counter(metadata, 'objectsCopiedToSink'), 1);
      assert.equal(counter(metadata, 'objectsFromSourceFailed'), 3);
      const byCode = Object.fromEntries(
        (metadata.errorBreakdowns ?? []).map((summary) => [String(summary.errorCode), summary]),
      );
      assert.equal(byCode.DATA_LOSS?.errorLogEntries?.[0]?.url, `${origin.url}/datasets/marketplace/2019-Oct.csv.gz`);
      assert.match(byCode.DATA_LOSS?.errorLogEntries?.[0]?.errorDetails?.[0] ?? '', /MD5 .* differs/);
      assert.equal(byCode.NOT_FOUND?.errorLogEntries?.[0]?.url, missing);
      assert.match(
        byCode.FAILED_PRECONDITION?.errorLogEntries?.[0]?.errorDetails?.[0] ?? '',
        /the URL list gives 12 bytes, the source sent \d+/,
      );
      const [exists] = await storage.storage
        .bucket(BUCKET)
        .file(`${job}/127.0.0.1/datasets/marketplace/2019-Oct.csv.gz`)
        .exists();
      assert.equal(exists, false, 'a mismatched object is not left in the sink');
    });

    test('a malformed URL list fails the operation, naming the line', async () => {
      const job = `malformed-${transport}`;
      await createJob(client, job, await urlList(job, [listLine('2019-Oct.csv'), 'ftp://host/file\t1']));
      const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      const { metadata, error } = await waitDone(client, operation.name as string);
      assert.equal(status(metadata), 'FAILED');
      assert.match(error?.message ?? '', /line 3: "ftp:\/\/host\/file" is not http/);
      assert.equal(String(metadata.errorBreakdowns?.[0]?.errorCode), 'INVALID_ARGUMENT');
    });

    test('cancel stops a running operation: ABORTED', async () => {
      const job = `cancelled-${transport}`;
      await createJob(client, job, await urlList(job, [listLine('2019-Oct.csv')]));
      origin.faults.set('/datasets/marketplace/2019-Oct.csv', { delayMs: 3000 });
      try {
        const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await client.operationsClient.cancelOperation({ name: operation.name } as never, CALL);
        const { metadata } = await waitDone(client, operation.name as string);
        assert.equal(status(metadata), 'ABORTED');
        assert.ok(metadata.endTime, 'it has an end time');
      } finally {
        origin.faults.clear();
      }
    });

    test('pause and resume', async () => {
      const job = `paused-${transport}`;
      await createJob(client, job, await urlList(job, [listLine('2019-Oct.csv'), listLine('2019-Nov.csv')]));
      origin.faults.set('/datasets/marketplace/2019-Oct.csv', { delayMs: 800, times: 1 });
      try {
        const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
        await client.pauseTransferOperation({ name: operation.name as string }, CALL);
        const [paused] = await client.operationsClient.getOperation({ name: operation.name } as never, CALL);
        assert.equal(paused.done, false);
        await assert.rejects(
          client.pauseTransferOperation({ name: operation.name as string }, CALL),
          /not IN_PROGRESS/,
        );
        await client.resumeTransferOperation({ name: operation.name as string }, CALL);
        const { metadata } = await waitDone(client, operation.name as string);
        assert.equal(status(metadata), 'SUCCESS');
        assert.equal(counter(metadata, 'objectsCopiedToSink'), 2);
      } finally {
        origin.faults.clear();
      }
    });

    test('list operations by job, newest first; unknown operations are NOT_FOUND', async () => {
      const filter = JSON.stringify({ projectId: PROJECT, jobNames: [`transferJobs/sync-${transport}`] });
      // The operations client's typings give the response message; at run time it pages and gives the list.
      const [operations] = (await client.operationsClient.listOperations(
        { name: 'transferOperations', filter } as never,
        CALL,
      )) as unknown as [{ name?: string }[]];
      assert.deepEqual(
        operations.map((operation) => operation.name),
        [`transferOperations/transferJobs-sync-${transport}-2`, `transferOperations/transferJobs-sync-${transport}-1`],
      );
      await assert.rejects(
        client.operationsClient.getOperation({ name: 'transferOperations/none' } as never, CALL),
        (error: { code?: number }) => {
          assert.equal(error.code, 5);
          return true;
        },
      );
    });
  });
}

describe('a restart, over gRPC', () => {
  let client: StorageTransferServiceClient;
  before(() => {
    client = transferClient('grpc', emulator.grpcPort);
  });
  after(() => client?.close());

  test('a transfer cut by a restart carries on and completes', async () => {
    const job = 'restarted';
    await createJob(client, job, await urlList(job, [listLine('2019-Oct.csv')]));
    origin.faults.set('/datasets/marketplace/2019-Oct.csv', { delayMs: 5000, times: 1 });
    try {
      const [operation] = await client.runTransferJob({ jobName: `transferJobs/${job}`, projectId: PROJECT }, CALL);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await client.close();
      await emulator.close();
      emulator = await startTransferEmulator({ stateFile, storage: storage.storage });
      client = transferClient('grpc', emulator.grpcPort);
      const { metadata, error } = await waitDone(client, operation.name as string);
      assert.equal(error, undefined);
      assert.equal(status(metadata), 'SUCCESS');
      assert.equal(metadata.counters?.objectsCopiedToSink, '1');
    } finally {
      origin.faults.clear();
    }
  });
});
