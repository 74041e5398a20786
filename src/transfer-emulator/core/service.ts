/**
 * The core of the emulated Storage Transfer Service: the methods with the service's semantics, independent of
 * the transport. The gRPC and REST fronts decode a request into the internal shape, call the method of the
 * same name here, and encode what it returns or the {@link ServiceError} it throws.
 */
import { createHash } from 'node:crypto';
import { invalidArgument, ServiceError } from './errors';
import { checkJobFields, checkJobName, checkTransferSpec, now, type JobStatus, type TransferJob } from './jobs';
import type { FaultTable } from './faults';
import type { Operations, TransferOperation } from './operations';
import type { StateStore } from './store';

const OPERATION_TYPE = 'type.googleapis.com/google.storagetransfer.v1.TransferOperation';
const EMPTY_TYPE = 'type.googleapis.com/google.protobuf.Empty';

/** `google.longrunning.Operation` in the internal shape, its Any fields as `@type` objects. */
export interface LongRunningOperation {
  name: string;
  done: boolean;
  metadata: Record<string, unknown>;
  error?: { code: number; message: string };
  response?: Record<string, unknown>;
}

/** The fields of a job that an update may change, as field-mask paths; the real service allows these. */
const UPDATABLE_FIELDS: Record<string, keyof TransferJob> = {
  description: 'description',
  transfer_spec: 'transferSpec',
  notification_config: 'notificationConfig',
  logging_config: 'loggingConfig',
  status: 'status',
  schedule: 'schedule',
};

const MAX_PAGE_SIZE = 256;

/** The emulated service over one state store. */
export class TransferService {
  constructor(
    private readonly store: StateStore,
    private readonly operations: Operations,
    private readonly faults: FaultTable,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Called by the fronts before each method: raises an injected fault for it, if one is set. */
  beforeCall(method: string): void {
    this.faults.beforeCall(method);
  }

  /** The project's transfer service agent: a stable, made-up account per project, as the service creates one. */
  getGoogleServiceAccount(request: { projectId?: string }): { accountEmail: string; subjectId: string } {
    return serviceAgent(required(request.projectId, 'project_id'));
  }

  /** Creates a job under the name given (idempotent for the caller: a taken name is ALREADY_EXISTS) or a new one. */
  createTransferJob(request: { transferJob?: TransferJob }): TransferJob {
    const job = request.transferJob;
    if (!job) throw invalidArgument('transfer_job', 'is required');
    required(job.projectId, 'transfer_job.project_id');
    if (job.status !== 'ENABLED' && job.status !== 'DISABLED') {
      throw invalidArgument(
        'transfer_job.status',
        `must be ENABLED or DISABLED on create, not ${job.status ?? 'unset'}`,
      );
    }
    checkJobFields(job);
    checkTransferSpec(job.transferSpec);
    this.checkSinkAccess(job);
    const { state } = this.store;
    let name = job.name;
    if (name) {
      checkJobName(name);
      const existing = state.jobs[name];
      if (existing) {
        const deleted = existing.status === 'DELETED' ? ' (deleted, and its name stays taken for 30 days)' : '';
        throw new ServiceError('ALREADY_EXISTS', `Transfer job ${name} already exists${deleted}`);
      }
    } else {
      do {
        state.lastGeneratedJob += 1;
        name = `transferJobs/${10_000_000_000_000_000n + BigInt(state.lastGeneratedJob)}`;
      } while (state.jobs[name]);
    }
    const time = now(this.clock);
    const created: TransferJob = {
      ...withoutOutputOnly(job),
      name,
      creationTime: time,
      lastModificationTime: time,
    };
    state.jobs[name] = created;
    this.store.save();
    return created;
  }

  /** A job by name, deleted ones included (the service keeps them, with status DELETED). */
  getTransferJob(request: { jobName?: string; projectId?: string }): TransferJob {
    return this.job(request.jobName, request.projectId);
  }

  /** Changes the fields the field mask names (all updatable fields given, without a mask). */
  updateTransferJob(request: {
    jobName?: string;
    projectId?: string;
    transferJob?: TransferJob;
    updateTransferJobFieldMask?: { paths?: string[] };
  }): TransferJob {
    const job = this.job(request.jobName, request.projectId);
    if (job.status === 'DELETED') throw new ServiceError('NOT_FOUND', `Transfer job ${job.name} was deleted`);
    const update = request.transferJob;
    if (!update) throw invalidArgument('transfer_job', 'is required');
    const paths = request.updateTransferJobFieldMask?.paths?.length
      ? request.updateTransferJobFieldMask.paths
      : Object.keys(UPDATABLE_FIELDS).filter((path) => update[UPDATABLE_FIELDS[path] as string] !== undefined);
    const changed: TransferJob = { ...job };
    for (const path of paths) {
      const field = UPDATABLE_FIELDS[path];
      if (!field) {
        throw invalidArgument(
          'update_transfer_job_field_mask',
          `"${path}" cannot be updated; these can: ${Object.keys(UPDATABLE_FIELDS).join(', ')}`,
        );
      }
      if (update[field] === undefined) delete changed[field];
      else changed[field] = update[field];
    }
    checkJobFields(changed);
    if (paths.includes('transfer_spec')) {
      checkTransferSpec(changed.transferSpec);
      this.checkSinkAccess(changed);
    }
    if (changed.status === 'STATUS_UNSPECIFIED' || changed.status === undefined) {
      throw invalidArgument('transfer_job.status', 'must be ENABLED, DISABLED or DELETED');
    }
    const time = now(this.clock);
    changed.lastModificationTime = time;
    if (changed.status === 'DELETED') changed.deletionTime = time;
    this.store.state.jobs[job.name as string] = changed;
    this.store.save();
    return changed;
  }

  /** Jobs of a project, filtered as the service filters them, a page at a time. */
  listTransferJobs(request: { filter?: string; pageSize?: number; pageToken?: string }): {
    transferJobs: TransferJob[];
    nextPageToken: string;
  } {
    const filter = parseFilter(request.filter);
    const names = filter.jobNames ? new Set(filter.jobNames) : undefined;
    const statuses = filter.jobStatuses ? new Set(filter.jobStatuses) : undefined;
    const matching = Object.values(this.store.state.jobs)
      .filter((job) => job.projectId === filter.projectId)
      .filter((job) => !names || names.has(job.name as string))
      .filter((job) => (statuses ? statuses.has(job.status as JobStatus) : job.status !== 'DELETED'))
      .sort((a, b) => compare(a.name as string, b.name as string));
    const { items, nextPageToken } = page(matching, request.pageSize, request.pageToken, (job) => job.name as string);
    return { transferJobs: items, nextPageToken };
  }

  /** Deletes a job softly: it stays, with status DELETED and its deletion time, and its name stays taken. */
  deleteTransferJob(request: { jobName?: string; projectId?: string }): Record<string, never> {
    const job = this.job(request.jobName, request.projectId);
    if (job.status !== 'DELETED') {
      const time = now(this.clock);
      this.store.state.jobs[job.name as string] = {
        ...job,
        status: 'DELETED',
        deletionTime: time,
        lastModificationTime: time,
      };
      this.store.save();
    }
    return {};
  }

  /** Starts a run of a job: a new transfer operation, QUEUED then IN_PROGRESS. One active run per job. */
  runTransferJob(request: { jobName?: string; projectId?: string }): LongRunningOperation {
    const job = this.job(request.jobName, request.projectId);
    if (job.status !== 'ENABLED') {
      throw new ServiceError('FAILED_PRECONDITION', `${job.name} is ${job.status}: only an ENABLED job runs`);
    }
    const operation = this.operations.start(job);
    this.store.state.jobs[job.name as string] = { ...job, latestOperationName: operation.name };
    this.store.save();
    return longRunning(operation);
  }

  /** An operation, as `google.longrunning.Operations.GetOperation` gives it. */
  getOperation(request: { name?: string }): LongRunningOperation {
    return longRunning(this.operations.get(request.name));
  }

  /** Operations of a project, newest first, filtered by job, operation name and status. */
  listOperations(request: { name?: string; filter?: string; pageSize?: number; pageToken?: string }): {
    operations: LongRunningOperation[];
    nextPageToken: string;
  } {
    if (request.name !== 'transferOperations') {
      throw invalidArgument('name', `must be "transferOperations", not ${JSON.stringify(request.name ?? '')}`);
    }
    const filter = parseFilter(request.filter, ['jobNames', 'operationNames', 'transferStatuses']);
    const matching = this.operations
      .all()
      .filter((operation) => operation.projectId === filter.projectId)
      .filter((operation) => !filter.jobNames || filter.jobNames.includes(operation.transferJobName))
      .filter((operation) => !filter.operationNames || filter.operationNames.includes(operation.name))
      .filter((operation) => !filter.transferStatuses || filter.transferStatuses.includes(operation.status));
    const { items, nextPageToken } = page(
      matching,
      request.pageSize,
      request.pageToken,
      (operation) => operation.name,
      false,
    );
    return { operations: items.map(longRunning), nextPageToken };
  }

  /** Cancels a running operation. */
  cancelOperation(request: { name?: string }): Record<string, never> {
    this.operations.cancel(request.name);
    return {};
  }

  /** Pauses an operation in progress. */
  pauseTransferOperation(request: { name?: string }): Record<string, never> {
    this.operations.pause(request.name);
    return {};
  }

  /** Resumes a paused operation. */
  resumeTransferOperation(request: { name?: string }): Record<string, never> {
    this.operations.resume(request.name);
    return {};
  }

  /**
   * The service looks up the sink bucket's location when a job is created, as its service agent: without
   * `storage.buckets.get` on the bucket the call fails with FAILED_PRECONDITION, in the service's words.
   */
  private checkSinkAccess(job: TransferJob): void {
    const bucket = job.transferSpec?.gcsDataSink?.bucketName as string;
    if (!this.faults.missing(bucket).includes('storage.buckets.get')) return;
    const { accountEmail } = this.getGoogleServiceAccount({ projectId: job.projectId });
    throw new ServiceError(
      'FAILED_PRECONDITION',
      `Failed to obtain the location of the GCS bucket ${bucket} Additional details: ${accountEmail} does not have ` +
        `storage.buckets.get access to the Google Cloud Storage bucket. Permission 'storage.buckets.get' denied on ` +
        `resource (or it may not exist).`,
    );
  }

  private job(jobName: string | undefined, projectId: string | undefined): TransferJob {
    const name = required(jobName, 'job_name');
    const project = required(projectId, 'project_id');
    const job = this.store.state.jobs[name];
    if (!job || job.projectId !== project) {
      throw new ServiceError('NOT_FOUND', `Transfer job ${name} does not exist in project ${project}`);
    }
    return job;
  }
}

/** The transfer service agent of a project: a made-up project number and subject id, stable per project. */
export function serviceAgent(projectId: string): { accountEmail: string; subjectId: string } {
  const digest = createHash('sha256').update(projectId).digest();
  const projectNumber = (digest.readBigUInt64BE(0) % 10n ** 12n).toString();
  const subjectId = (digest.readBigUInt64BE(8) % 10n ** 21n).toString();
  return { accountEmail: `project-${projectNumber}@storage-transfer-service.iam.gserviceaccount.com`, subjectId };
}

function required(value: string | undefined, field: string): string {
  if (!value) throw invalidArgument(field, 'is required');
  return value;
}

function withoutOutputOnly(job: TransferJob): TransferJob {
  const { creationTime: _c, lastModificationTime: _m, deletionTime: _d, latestOperationName: _l, ...rest } = job;
  return rest;
}

/** The JSON filter of the List calls: `{"projectId": ..., "jobNames": [...], "jobStatuses": [...]}`. */
function parseFilter(
  text: string | undefined,
  lists: string[] = ['jobNames', 'jobStatuses'],
): { projectId: string } & Partial<
  Record<'jobNames' | 'jobStatuses' | 'operationNames' | 'transferStatuses', string[]>
> {
  if (!text) throw invalidArgument('filter', 'is required and must name a projectId');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidArgument('filter', `${JSON.stringify(text)} is not JSON`);
  }
  const filter = (parsed ?? {}) as Record<string, unknown>;
  const projectId = filter.projectId ?? filter.project_id;
  if (typeof projectId !== 'string' || !projectId) throw invalidArgument('filter', 'must name a projectId');
  const list = (key: string, snake: string): string[] | undefined => {
    const value = filter[key] ?? filter[snake];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw invalidArgument('filter', `${key} must be a list of strings`);
    }
    return value as string[];
  };
  const snake = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
  return { projectId, ...Object.fromEntries(lists.map((name) => [name, list(name, snake(name))])) };
}

/** One page of `items` (sorted by key), with a token that resumes after the last key of the page. */
export function page<T>(
  items: readonly T[],
  pageSize: number | undefined,
  pageToken: string | undefined,
  key: (item: T) => string,
  sortedByKey = true,
): { items: T[]; nextPageToken: string } {
  if (pageSize !== undefined && (pageSize < 0 || !Number.isInteger(pageSize))) {
    throw invalidArgument('page_size', `${pageSize} is not a positive whole number`);
  }
  const size = Math.min(pageSize || MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  let after: string | undefined;
  if (pageToken) {
    after = Buffer.from(pageToken, 'base64url').toString('utf8');
    if (!after.startsWith('after:')) throw invalidArgument('page_token', 'is not a token this service gave');
    after = after.slice('after:'.length);
  }
  let start = 0;
  if (after !== undefined) {
    const resume = after;
    start = sortedByKey
      ? items.findIndex((item) => compare(key(item), resume) > 0)
      : items.findIndex((item) => key(item) === resume) + 1 || -1;
  }
  const rest = start < 0 ? [] : items.slice(start);
  const pageItems = rest.slice(0, size);
  const last = pageItems[pageItems.length - 1];
  const nextPageToken = rest.length > size && last ? Buffer.from(`after:${key(last)}`).toString('base64url') : '';
  return { items: pageItems, nextPageToken };
}

function longRunning(operation: TransferOperation): LongRunningOperation {
  const { error, ...metadata } = operation;
  const done = operation.status === 'SUCCESS' || operation.status === 'FAILED' || operation.status === 'ABORTED';
  return {
    name: operation.name,
    done,
    metadata: { '@type': OPERATION_TYPE, ...metadata },
    ...(error ? { error } : done ? { response: { '@type': EMPTY_TYPE } } : {}),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
