/**
 * The failure types of a collection, each retryable or not where it is raised. Activities throw these (as
 * Temporal `ApplicationFailure`s carrying the type), and the workflow's retry policies name the
 * non-retryable ones, so that a missing file stops the run at once while a flaky server is tried again.
 */
import { ApplicationFailure } from '@temporalio/common';

/** Each failure type, and whether trying again can help. */
export const FAILURE_TYPES = {
  /** The source does not have the file (HTTP 404, an unknown Kaggle dataset, version or file). */
  SourceNotFound: { retryable: false },
  /** The source refuses us (HTTP 401 or 403, wrong Kaggle credentials). */
  SourceForbidden: { retryable: false },
  /** The source serves the file in a way Storage Transfer Service cannot copy (no Content-Length, no Range). */
  SourceUnsuitable: { retryable: false },
  /** The source did not answer well this time (5xx, 429, a timeout, a dropped connection). */
  SourceUnavailable: { retryable: true },
  /** A credential the step needs is not configured. */
  MissingCredential: { retryable: false },
  /** The sink bucket does not exist. */
  BucketNotFound: { retryable: false },
  /** We cannot write to the sink bucket (our own credentials lack a permission). */
  BucketNotWritable: { retryable: false },
  /** The transfer service agent lacks a permission on the sink bucket that a transfer needs. */
  ServiceAgentLacksPermission: { retryable: false },
  /** The transfer service refused the job for a reason no retry mends (invalid, precondition, permission). */
  TransferRefused: { retryable: false },
  /** The transfer service did not answer well this time (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED). */
  TransferServiceUnavailable: { retryable: true },
  /** The transfer operation ended FAILED: the details carry its error breakdown. */
  TransferFailed: { retryable: false },
  /** The transfer operation ended ABORTED without this run cancelling it. */
  TransferAborted: { retryable: false },
  /** The transfer did not end within the polling deadline. */
  TransferTimedOut: { retryable: false },
  /** The dataset's pointer to its current copies (`current.json`) cannot be read as one. */
  CurrentUnreadable: { retryable: false },
  /** What landed is not what the source published: see the integrity results in the record. */
  IntegrityFailed: { retryable: false },
} as const;

/** The name of a failure type. */
export type FailureType = keyof typeof FAILURE_TYPES;

/** The failure types that no retry can mend, for `retry.nonRetryableErrorTypes`. */
export const NON_RETRYABLE_FAILURES: FailureType[] = (Object.keys(FAILURE_TYPES) as FailureType[]).filter(
  (type) => !FAILURE_TYPES[type].retryable,
);

/** Creates the failure of a type, retryable or not as the type says. `details` must hold no secret. */
export function failure(type: FailureType, message: string, details?: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: !FAILURE_TYPES[type].retryable,
    details: details ? [details] : undefined,
  });
}
