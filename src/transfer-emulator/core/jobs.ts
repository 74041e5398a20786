/**
 * Transfer jobs as the service checks them: the name rules, the fields a create or an update must have, and
 * the output-only fields the service fills. A job is kept in the emulator's internal shape (see
 * `../protos.ts`); fields it does not look at are kept as given and returned unchanged.
 *
 * What is emulated is what HTTP-to-Cloud-Storage collection uses: `httpDataSource` into `gcsDataSink`. A job
 * with another source or sink is refused as UNIMPLEMENTED, naming the field, rather than accepted and never
 * run.
 */
import { invalidArgument, ServiceError } from './errors';

/** `google.protobuf.Timestamp` in the internal shape. */
export interface Timestamp {
  seconds: string;
  nanos?: number;
}

/** The statuses of a job. */
export type JobStatus = 'STATUS_UNSPECIFIED' | 'ENABLED' | 'DISABLED' | 'DELETED';

/** A Cloud Storage bucket and path, as a sink. */
export interface GcsData {
  bucketName?: string;
  path?: string;
}

/** What a job copies, from where to where, and how. */
export interface TransferSpec {
  httpDataSource?: { listUrl?: string };
  gcsDataSink?: GcsData;
  transferOptions?: {
    overwriteObjectsAlreadyExistingInSink?: boolean;
    deleteObjectsUniqueInSink?: boolean;
    deleteObjectsFromSourceAfterTransfer?: boolean;
    overwriteWhen?: 'OVERWRITE_WHEN_UNSPECIFIED' | 'DIFFERENT' | 'NEVER' | 'ALWAYS';
  };
  [field: string]: unknown;
}

/** `google.storagetransfer.v1.TransferJob` in the internal shape. */
export interface TransferJob {
  name?: string;
  description?: string;
  projectId?: string;
  transferSpec?: TransferSpec;
  notificationConfig?: { pubsubTopic?: string; eventTypes?: string[]; payloadFormat?: string };
  loggingConfig?: unknown;
  schedule?: unknown;
  status?: JobStatus;
  creationTime?: Timestamp;
  lastModificationTime?: Timestamp;
  deletionTime?: Timestamp;
  latestOperationName?: string;
  [field: string]: unknown;
}

const NAME_PATTERN = /^transferJobs\/[A-Za-z0-9_-]*[A-Za-z0-9]$/;
const MAX_NAME_LENGTH = 128;
const MAX_DESCRIPTION_BYTES = 1024;

/** The sources and sinks of TransferSpec that the emulator does not run. */
const OTHER_SOURCES = [
  ['gcsDataSource', 'gcs_data_source'],
  ['awsS3DataSource', 'aws_s3_data_source'],
  ['posixDataSource', 'posix_data_source'],
  ['azureBlobStorageDataSource', 'azure_blob_storage_data_source'],
  ['awsS3CompatibleDataSource', 'aws_s3_compatible_data_source'],
  ['hdfsDataSource', 'hdfs_data_source'],
  ['posixDataSink', 'posix_data_sink'],
] as const;

/** Checks a job name; throws INVALID_ARGUMENT naming `field` when it breaks the service's rules. */
export function checkJobName(name: string, field = 'transfer_job.name'): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw invalidArgument(field, `"${name}" is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw invalidArgument(
      field,
      `"${name}" must be "transferJobs/" followed by letters, digits, "-" or "_", ending with a letter or digit`,
    );
  }
  if (name.startsWith('transferJobs/OPI')) {
    throw invalidArgument(field, `"${name}" may not start with "transferJobs/OPI"`);
  }
}

/** Checks the transfer spec of a job being created or updated. */
export function checkTransferSpec(spec: TransferSpec | undefined, field = 'transfer_job.transfer_spec'): void {
  if (!spec) throw invalidArgument(field, 'is required');
  for (const [name, snake] of OTHER_SOURCES) {
    if (spec[name] !== undefined) {
      throw new ServiceError(
        'UNIMPLEMENTED',
        `${field}.${snake} is not emulated: only http_data_source into gcs_data_sink`,
      );
    }
  }
  const listUrl = spec.httpDataSource?.listUrl;
  if (!spec.httpDataSource) throw invalidArgument(`${field}.http_data_source`, 'a data source is required');
  if (!listUrl) throw invalidArgument(`${field}.http_data_source.list_url`, 'is required');
  let parsed: URL | undefined;
  try {
    parsed = new URL(listUrl);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw invalidArgument(`${field}.http_data_source.list_url`, `"${listUrl}" must be an http:// or https:// URL`);
  }
  const sink = spec.gcsDataSink;
  if (!sink) throw invalidArgument(`${field}.gcs_data_sink`, 'a data sink is required');
  if (!sink.bucketName) throw invalidArgument(`${field}.gcs_data_sink.bucket_name`, 'is required');
  if (sink.path && !sink.path.endsWith('/')) {
    throw invalidArgument(`${field}.gcs_data_sink.path`, `"${sink.path}" must be empty or end with "/"`);
  }
  const options = spec.transferOptions;
  if (options?.deleteObjectsFromSourceAfterTransfer && options.deleteObjectsUniqueInSink) {
    throw invalidArgument(
      `${field}.transfer_options`,
      'delete_objects_from_source_after_transfer and delete_objects_unique_in_sink exclude each other',
    );
  }
}

/** Checks the fields of a job that create and update share. */
export function checkJobFields(job: TransferJob, prefix = 'transfer_job'): void {
  if (job.description !== undefined && Buffer.byteLength(job.description) > MAX_DESCRIPTION_BYTES) {
    throw invalidArgument(`${prefix}.description`, `is longer than ${MAX_DESCRIPTION_BYTES} bytes`);
  }
  const topic = job.notificationConfig?.pubsubTopic;
  if (job.notificationConfig && !/^projects\/[^/]+\/topics\/[^/]+$/.test(topic ?? '')) {
    throw invalidArgument(
      `${prefix}.notification_config.pubsub_topic`,
      `"${topic ?? ''}" is not projects/{project}/topics/{topic}`,
    );
  }
}

/** The current time as a Timestamp. */
export function now(clock: () => number = Date.now): Timestamp {
  const ms = clock();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}
