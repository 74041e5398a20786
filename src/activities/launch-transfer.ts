/**
 * Step 3 of a collection, transfer launch: writes the URL list into the collection's folder, creates the
 * transfer job under the name the collection gives it, and runs it once.
 *
 * Every part is idempotent, so that a retry, a restarted worker or a second client arrives at the same job
 * and the same operation, never new ones:
 * - the job's name is the collection's (see `src/naming.ts`), and the service refuses a second job of that
 *   name: an existing job is adopted as it is (its URL list is not rewritten);
 * - a job runs at most once: when it already has an operation (its `latestOperationName`, or one the service
 *   lists for it), that operation is adopted, and only a job that never ran is run.
 *
 * The URL list is read by the service without our credentials: a V4 signed URL against Google Cloud, the
 * storage emulator's plain object URL locally. That URL (a secret on Google Cloud) goes only into the job,
 * never into the workflow history or the logs. For Kaggle sources the list holds fresh signed download URLs,
 * resolved here with the worker's Kaggle credentials; they too stay in the bucket.
 */
import { activityInfo, log } from '@temporalio/activity';
import { failure } from '../failures';
import { callOptions, grpcCode, TRANSIENT_CODES } from '../google';
import type { CollectionNames } from '../naming';
import { KaggleApi, loadKaggleCredentials } from '../source/kaggle';
import type { SourceManifest } from '../source/types';
import { formatUrlList, objectNameFor, type UrlListItem } from '../transfer/url-list';
import type { GoogleClients } from './google-clients';

/** What the launch needs. */
export interface LaunchInput {
  manifest: SourceManifest;
  bucket: string;
  names: CollectionNames;
}

/** The job and operation of the collection, and where each source file lands. */
export interface LaunchResult {
  jobName: string;
  operationName: string;
  /** `gs://bucket/<names.urlList>`. */
  urlList: string;
  /** The object each file of the manifest lands as, in the manifest's order. */
  objects: string[];
  adoptedJob: boolean;
  adoptedOperation: boolean;
  /** The attempt of the activity that launched: above 1 when earlier ones failed. */
  attempt: number;
}

/** Settings of the step. */
export interface LaunchSettings {
  requestTimeoutMs: number;
  env: NodeJS.ProcessEnv;
}

/** Makes the activity. */
export function makeLaunchTransfer(clients: GoogleClients, settings: LaunchSettings) {
  return async function launchTransfer(input: LaunchInput): Promise<LaunchResult> {
    const { names, bucket } = input;
    const { projectId } = clients.config;
    const call = callOptions(settings.requestTimeoutMs);
    const items = await transferUrls(input.manifest, settings);
    const objects = items.map((item) => objectNameFor(item.url, names.dataPath));

    let job = await guard('GetTransferJob', () => getJob(clients, names.jobName, projectId, call));
    const adoptedJob = job !== undefined;
    if (!job) {
      const listUrl = await writeUrlList(clients, bucket, names.urlList, items);
      try {
        [job] = await clients.transfer.createTransferJob(
          {
            transferJob: {
              name: names.jobName,
              projectId,
              description: `coleta: ${names.collectionId} into gs://${bucket}/${names.dataPath}`.slice(0, 1024),
              status: 'ENABLED',
              transferSpec: {
                httpDataSource: { listUrl },
                gcsDataSink: { bucketName: bucket, path: names.dataPath },
                // Raw data is never overwritten: the collection's own folder is new, and NEVER says so twice.
                transferOptions: { overwriteWhen: 'NEVER' },
              },
            },
          },
          call,
        );
      } catch (error) {
        // ALREADY_EXISTS (ABORTED over REST): another attempt made it in the meantime; adopt it.
        const code = grpcCode(error);
        if (code !== 'ALREADY_EXISTS' && code !== 'ABORTED') throw classify('CreateTransferJob', error);
        job = await guard('GetTransferJob', () => getJob(clients, names.jobName, projectId, call));
        if (!job) throw classify('CreateTransferJob', error);
      }
      log.info('transfer job created', { job: names.jobName, files: items.length });
    }

    let operationName = job.latestOperationName || (await listedOperation(clients, names.jobName, projectId, call));
    const adoptedOperation = Boolean(operationName);
    if (!operationName) {
      try {
        const [operation] = await clients.transfer.runTransferJob({ jobName: names.jobName, projectId }, call);
        operationName = operation.name ?? '';
      } catch (error) {
        // The job already has an active operation (a run this activity did not see return): adopt it.
        const code = grpcCode(error);
        if (code !== 'FAILED_PRECONDITION' && code !== 'INVALID_ARGUMENT') throw classify('RunTransferJob', error);
        operationName = await listedOperation(clients, names.jobName, projectId, call);
        if (!operationName) throw classify('RunTransferJob', error);
      }
    }
    log.info('transfer running', { job: names.jobName, operation: operationName, adoptedJob, adoptedOperation });
    return {
      jobName: names.jobName,
      operationName,
      urlList: `gs://${bucket}/${names.urlList}`,
      objects: objects.map((object) => `gs://${bucket}/${object}`),
      adoptedJob,
      adoptedOperation,
      attempt: activityInfo().attempt,
    };
  };
}

/** The URLs the service copies from: the files' own, or fresh signed download URLs for Kaggle files. */
async function transferUrls(manifest: SourceManifest, settings: LaunchSettings): Promise<UrlListItem[]> {
  const { source } = manifest;
  let resolve = async (file: SourceManifest['files'][number]) => file.url;
  if (source.kind === 'kaggle') {
    const api = new KaggleApi(source.apiUrl, loadKaggleCredentials(settings.env), {
      timeoutMs: settings.requestTimeoutMs,
    });
    resolve = (file) => api.signedUrl(source.owner, source.slug, file.name, source.version);
  }
  const items: UrlListItem[] = [];
  for (const file of manifest.files) {
    items.push({ url: await resolve(file), size: file.size, ...(file.md5 ? { md5: file.md5 } : {}) });
  }
  return items;
}

/** Writes the URL list and returns the URL the service reads it at. */
async function writeUrlList(clients: GoogleClients, bucket: string, object: string, items: UrlListItem[]) {
  const file = clients.storage.bucket(bucket).file(object);
  await file.save(formatUrlList(items), { resumable: false, contentType: 'text/tab-separated-values' });
  const access = clients.config.listAccess;
  if (access.kind === 'public') {
    return `${access.baseUrl}/${bucket}/${object.split('/').map(encodeURIComponent).join('/')}`;
  }
  const [url] = await file.getSignedUrl({
    version: 'v4',
    action: 'read',
    expires: Date.now() + access.expiresSeconds * 1000,
  });
  return url;
}

type Call = ReturnType<typeof callOptions>;

async function getJob(clients: GoogleClients, jobName: string, projectId: string, call: Call) {
  try {
    const [job] = await clients.transfer.getTransferJob({ jobName, projectId }, call);
    return job;
  } catch (error) {
    if (grpcCode(error) === 'NOT_FOUND') return undefined;
    throw error;
  }
}

/** The newest operation the service lists for the job, if any. */
async function listedOperation(clients: GoogleClients, jobName: string, projectId: string, call: Call) {
  const request = { name: 'transferOperations', filter: JSON.stringify({ projectId, jobNames: [jobName] }) };
  // The typings say one response; the client resolves to [operations, next request, raw response].
  const [operations] = (await guard('ListOperations', () =>
    clients.transfer.operationsClient.listOperations(request as never, { ...call, autoPaginate: false } as never),
  )) as unknown as [{ name?: string }[]];
  return operations[0]?.name ?? '';
}

async function guard<T>(method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw classify(method, error);
  }
}

/** A transient error is retried by the activity's retry policy; anything else stops the run. */
function classify(method: string, error: unknown) {
  const code = grpcCode(error) ?? 'UNKNOWN';
  const text = `${method}: ${code}: ${error instanceof Error ? error.message : String(error)}`;
  return TRANSIENT_CODES.has(code) || code === 'UNKNOWN' || code === 'INTERNAL'
    ? failure('TransferServiceUnavailable', text)
    : failure('TransferRefused', text);
}
