/**
 * Contract tests of the Storage Transfer Service emulator's transfer job methods, with the official client
 * over gRPC and over REST: the documented shapes and error codes, page tokens, soft deletion, and state kept
 * across a restart.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import type { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import { startTransferEmulator, type Emulator } from '../src/transfer-emulator/server';
import { tempDir } from './helpers/fixtures';
import { transferClient, type Transport } from './helpers/transfer';

const PROJECT = 'coleta-test';
/** Job methods never touch the sink; runs are tested with a real storage emulator elsewhere. */
const UNUSED_STORAGE = new Storage({ apiEndpoint: 'http://127.0.0.1:9', projectId: PROJECT });

/**
 * The code the client reports for ALREADY_EXISTS. Over REST the service answers HTTP 409 with status
 * ALREADY_EXISTS, and google-gax maps the HTTP status alone, 409 to ABORTED (10), as it does with the real
 * service; over gRPC the code arrives as it is.
 */
const ALREADY_EXISTS: Record<Transport, number> = { grpc: 6, rest: 10 };
const CALL = { timeout: 5000, retry: null };

function job(name: string, overrides: Record<string, unknown> = {}) {
  return {
    name,
    projectId: PROJECT,
    description: 'a test job',
    status: 'ENABLED' as const,
    transferSpec: {
      httpDataSource: { listUrl: 'http://127.0.0.1:8090/lists/a.tsv' },
      gcsDataSink: { bucketName: 'coleta-raw', path: 'raw/' },
      transferOptions: { overwriteWhen: 'DIFFERENT' as const },
    },
    ...overrides,
  };
}

/** Expects a call to fail with a gRPC canonical code and a message matching `pattern`. */
async function rejectsWithCode(promise: Promise<unknown>, code: number, pattern: RegExp) {
  await assert.rejects(promise, (error: { code?: number; message?: string }) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message ?? '', pattern);
    return true;
  });
}

for (const transport of ['grpc', 'rest'] as Transport[]) {
  describe(`transfer jobs over ${transport}`, () => {
    let emulator: Emulator;
    let client: StorageTransferServiceClient;
    let stateFile: string;
    const prefix = `transferJobs/${transport}`;

    before(async () => {
      stateFile = path.join(tempDir('sts'), 'state.json');
      emulator = await startTransferEmulator({ stateFile, storage: UNUSED_STORAGE });
      client = transferClient(transport, transport === 'grpc' ? emulator.grpcPort : emulator.restPort);
    });
    after(async () => {
      await client?.close();
      await emulator?.close();
    });

    test('GetGoogleServiceAccount gives one stable agent per project', async () => {
      const [first] = await client.getGoogleServiceAccount({ projectId: PROJECT }, CALL);
      const [again] = await client.getGoogleServiceAccount({ projectId: PROJECT }, CALL);
      const [other] = await client.getGoogleServiceAccount({ projectId: 'another-project' }, CALL);
      assert.match(first.accountEmail ?? '', /^project-\d+@storage-transfer-service\.iam\.gserviceaccount\.com$/);
      assert.match(first.subjectId ?? '', /^\d+$/);
      assert.deepEqual(again, first);
      assert.notEqual(other.accountEmail, first.accountEmail);
      // Over REST an empty project leaves an empty path segment, which matches no method at all.
      const [code, pattern] = transport === 'grpc' ? [3, /project_id: is required/] : [5, /no method answers GET/];
      await rejectsWithCode(client.getGoogleServiceAccount({ projectId: '' }, CALL), code, pattern);
    });

    test('create returns the job with its output-only fields; get finds it', async () => {
      const [created] = await client.createTransferJob({ transferJob: job(`${prefix}-one`) }, CALL);
      assert.equal(created.name, `${prefix}-one`);
      assert.equal(created.projectId, PROJECT);
      assert.equal(String(created.status), 'ENABLED');
      assert.equal(created.transferSpec?.httpDataSource?.listUrl, 'http://127.0.0.1:8090/lists/a.tsv');
      assert.equal(created.transferSpec?.gcsDataSink?.path, 'raw/');
      assert.ok(Number(created.creationTime?.seconds) > 1_700_000_000);
      assert.deepEqual(created.lastModificationTime, created.creationTime);
      const [got] = await client.getTransferJob({ jobName: `${prefix}-one`, projectId: PROJECT }, CALL);
      assert.deepEqual(got, created);
    });

    test('a name in use is ALREADY_EXISTS; no name gets one chosen by the service', async () => {
      await rejectsWithCode(
        client.createTransferJob({ transferJob: job(`${prefix}-one`) }, CALL),
        ALREADY_EXISTS[transport],
        /already exists/,
      );
      const [chosen] = await client.createTransferJob({ transferJob: job('') }, CALL);
      assert.match(chosen.name ?? '', /^transferJobs\/\d{17,}$/);
    });

    const invalid: [string, Record<string, unknown>, RegExp][] = [
      ['a name with a space', { name: 'transferJobs/has space' }, /transfer_job\.name: .* must be "transferJobs\/"/],
      ['a name ending with "-"', { name: 'transferJobs/ends-' }, /transfer_job\.name/],
      ['a name starting with OPI', { name: 'transferJobs/OPI123' }, /may not start with "transferJobs\/OPI"/],
      ['a name longer than 128', { name: `transferJobs/${'a'.repeat(120)}` }, /longer than 128/],
      ['no status', { status: undefined }, /transfer_job\.status: must be ENABLED or DISABLED/],
      ['no project', { projectId: '' }, /transfer_job\.project_id: is required/],
      ['a long description', { description: 'x'.repeat(1025) }, /transfer_job\.description: is longer than 1024 bytes/],
      [
        'a gs:// URL list',
        { transferSpec: { httpDataSource: { listUrl: 'gs://b/list.tsv' }, gcsDataSink: { bucketName: 'b' } } },
        /http_data_source\.list_url: "gs:\/\/b\/list\.tsv" must be an http/,
      ],
      [
        'no sink bucket',
        { transferSpec: { httpDataSource: { listUrl: 'http://h/l.tsv' }, gcsDataSink: { path: 'a/' } } },
        /gcs_data_sink\.bucket_name: is required/,
      ],
      [
        'a sink path without a final "/"',
        {
          transferSpec: {
            httpDataSource: { listUrl: 'http://h/l.tsv' },
            gcsDataSink: { bucketName: 'b', path: 'raw' },
          },
        },
        /gcs_data_sink\.path: "raw" must be empty or end with "\/"/,
      ],
      [
        'both delete options',
        {
          transferSpec: {
            httpDataSource: { listUrl: 'http://h/l.tsv' },
            gcsDataSink: { bucketName: 'b' },
            transferOptions: { deleteObjectsUniqueInSink: true, deleteObjectsFromSourceAfterTransfer: true },
          },
        },
        /exclude each other/,
      ],
      [
        'a bad Pub/Sub topic',
        { notificationConfig: { pubsubTopic: 'topic', payloadFormat: 'JSON' } },
        /notification_config\.pubsub_topic: "topic" is not projects\/\{project\}\/topics\/\{topic\}/,
      ],
    ];
    for (const [what, overrides, pattern] of invalid) {
      test(`create refuses ${what} with INVALID_ARGUMENT naming the field`, async () => {
        await rejectsWithCode(
          client.createTransferJob({ transferJob: job(`${prefix}-bad`, overrides) }, CALL),
          3,
          pattern,
        );
      });
    }

    test('a source the emulator does not run is UNIMPLEMENTED, naming it', async () => {
      const transferJob = job(`${prefix}-s3`, {
        transferSpec: { awsS3DataSource: { bucketName: 's3b' }, gcsDataSink: { bucketName: 'b' } },
      });
      await rejectsWithCode(client.createTransferJob({ transferJob }, CALL), 12, /aws_s3_data_source is not emulated/);
    });

    test('an unknown job is NOT_FOUND', async () => {
      await rejectsWithCode(
        client.getTransferJob({ jobName: 'transferJobs/none', projectId: PROJECT }, CALL),
        5,
        /transferJobs\/none does not exist/,
      );
      await rejectsWithCode(
        client.getTransferJob({ jobName: `${prefix}-one`, projectId: 'other-project' }, CALL),
        5,
        /does not exist in project other-project/,
      );
    });

    test('update changes the fields of the mask only', async () => {
      const [before] = await client.getTransferJob({ jobName: `${prefix}-one`, projectId: PROJECT }, CALL);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const [updated] = await client.updateTransferJob(
        {
          jobName: `${prefix}-one`,
          projectId: PROJECT,
          transferJob: { description: 'changed', status: 'DISABLED' },
          updateTransferJobFieldMask: { paths: ['description'] },
        },
        CALL,
      );
      assert.equal(updated.description, 'changed');
      assert.equal(String(updated.status), 'ENABLED', 'status was not in the mask');
      assert.ok(Number(updated.lastModificationTime?.seconds) > Number(before.lastModificationTime?.seconds));
      assert.deepEqual(updated.creationTime, before.creationTime);
      await rejectsWithCode(
        client.updateTransferJob(
          {
            jobName: `${prefix}-one`,
            projectId: PROJECT,
            transferJob: { name: 'transferJobs/other' },
            updateTransferJobFieldMask: { paths: ['name'] },
          },
          CALL,
        ),
        3,
        /"name" cannot be updated/,
      );
    });

    test('list filters by project and names, a page at a time', async () => {
      for (const n of [1, 2, 3, 4]) await client.createTransferJob({ transferJob: job(`${prefix}-page-${n}`) }, CALL);
      const filter = JSON.stringify({ projectId: PROJECT });
      const [firstPage, nextRequest] = await client.listTransferJobs(
        { filter, pageSize: 2 },
        { ...CALL, autoPaginate: false },
      );
      assert.equal(firstPage.length, 2);
      assert.ok(nextRequest?.pageToken, 'a token for the next page');
      const [all] = await client.listTransferJobs({ filter }, CALL);
      const names = all.map((listed) => listed.name);
      for (const n of [1, 2, 3, 4]) assert.ok(names.includes(`${prefix}-page-${n}`));
      assert.deepEqual([...names].sort(), names, 'in name order');
      const [some] = await client.listTransferJobs(
        { filter: JSON.stringify({ projectId: PROJECT, jobNames: [`${prefix}-page-2`] }) },
        CALL,
      );
      assert.deepEqual(
        some.map((listed) => listed.name),
        [`${prefix}-page-2`],
      );
      await rejectsWithCode(client.listTransferJobs({ filter: '{}' }, CALL), 3, /filter: must name a projectId/);
      await rejectsWithCode(client.listTransferJobs({ filter: 'not json' }, CALL), 3, /filter: .* is not JSON/);
    });

    test('delete is soft: the job stays DELETED and its name stays taken', async () => {
      await client.deleteTransferJob({ jobName: `${prefix}-page-1`, projectId: PROJECT }, CALL);
      const [deleted] = await client.getTransferJob({ jobName: `${prefix}-page-1`, projectId: PROJECT }, CALL);
      assert.equal(String(deleted.status), 'DELETED');
      assert.ok(Number(deleted.deletionTime?.seconds) > 0);
      const [listed] = await client.listTransferJobs({ filter: JSON.stringify({ projectId: PROJECT }) }, CALL);
      assert.ok(!listed.some((candidate) => candidate.name === `${prefix}-page-1`), 'not listed by default');
      const [withDeleted] = await client.listTransferJobs(
        { filter: JSON.stringify({ projectId: PROJECT, jobStatuses: ['DELETED'] }) },
        CALL,
      );
      assert.deepEqual(
        withDeleted.map((candidate) => candidate.name),
        [`${prefix}-page-1`],
      );
      await rejectsWithCode(
        client.createTransferJob({ transferJob: job(`${prefix}-page-1`) }, CALL),
        ALREADY_EXISTS[transport],
        /deleted/,
      );
    });

    test('a method that is not emulated answers UNIMPLEMENTED, naming it', async () => {
      await rejectsWithCode(
        client.createAgentPool({ projectId: PROJECT, agentPoolId: 'pool', agentPool: {} }, CALL),
        12,
        /StorageTransferService\.CreateAgentPool is not emulated/,
      );
    });

    test('jobs survive a restart of the emulator', async () => {
      await client.close();
      await emulator.close();
      emulator = await startTransferEmulator({ stateFile, storage: UNUSED_STORAGE });
      client = transferClient(transport, transport === 'grpc' ? emulator.grpcPort : emulator.restPort);
      const [kept] = await client.getTransferJob({ jobName: `${prefix}-one`, projectId: PROJECT }, CALL);
      assert.equal(kept.description, 'changed');
    });
  });
}
