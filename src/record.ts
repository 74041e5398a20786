/**
 * The record of a collection: what the run collected, from where, how, what went wrong on the way and how it
 * was resolved, what the integrity checks found, and a profile of the data. The workflow builds it step by
 * step (so that it is written also when a run fails, as far as it got), and the documentation step writes it
 * next to the data as JSON for machines and Markdown for people. Types only: the workflow imports them.
 *
 * Nothing here may hold a secret: URLs are the manifest's (redacted, or the Kaggle API's stable ones), and
 * the URL list's signed URL is never part of it.
 */
import type { CurrentFile, FileChange } from './incremental';
import type { SourceManifest } from './source/types';

/** The version of the record's shape, raised when a field changes meaning. */
export const RECORD_VERSION = 1;

/** How a run ended. */
export type Outcome = 'succeeded' | 'failed' | 'cancelled';

/** One problem met on the way, and what was done about it. */
export interface Problem {
  /** The step it happened in. */
  step: string;
  /** When it was seen (ISO 8601). */
  at: string;
  /** What went wrong, in words. */
  problem: string;
  /** What was done: retried, adopted, failed the run... */
  resolution: string;
}

/** The transfer as the service reports it. Counters are numbers of objects and bytes. */
export interface TransferReport {
  /** The service agent that copies, as preflight found it. */
  serviceAgent?: string;
  jobName?: string;
  operationName?: string;
  /** The URL list object, `gs://bucket/object` (its signed URL is not recorded). */
  urlList?: string;
  /** Whether the job or the operation was found from an earlier attempt rather than made by this one. */
  adoptedJob?: boolean;
  adoptedOperation?: boolean;
  status?: string;
  startTime?: string;
  endTime?: string;
  counters?: Record<string, number>;
  errorBreakdowns?: { errorCode: string; errorCount: number; examples: { url: string; details: string[] }[] }[];
  /** Polls of the operation, and whether this run cancelled it. */
  polls?: number;
  cancelledByRun?: boolean;
}

/** One checksum compared. */
export interface ChecksumComparison {
  algorithm: 'md5' | 'crc32c';
  /** `source` (what the source published), `storage` (what Cloud Storage computed). */
  expectedFrom: 'source' | 'storage';
  expected: string;
  actual: string;
  match: boolean;
}

/** What the integrity step found about one file. */
export interface FileIntegrity {
  /** The file's name at the source. */
  name: string;
  /** Where it landed: `gs://bucket/object`. */
  object: string;
  present: boolean;
  expectedSize: number;
  size?: number;
  /** MD5 and CRC32C as computed from the bytes in the bucket, base64. */
  md5?: string;
  crc32c?: string;
  checksums: ChecksumComparison[];
  packaging?: string;
  header?: 'ok' | 'wrong' | 'none';
  rows?: number;
  invalidRows?: number;
  violations?: { kind: string; meaning: string; count: number; examples: { line: number; text: string }[] }[];
  /** The verifier's profile of the data (see `src/verify/types.ts`). */
  profile?: Record<string, unknown>;
  /** Whether a file that failed was marked with the custom metadata `coleta-integrity: failed`. */
  marked?: boolean;
  /** Each thing that makes the file fail, one sentence each; empty when the file is good. */
  problems: string[];
  ok: boolean;
}

/** The record of one collection. */
export interface CollectionRecord {
  recordVersion: number;
  datasetId: string;
  collectionId: string;
  workflowId: string;
  runId: string;
  /** `google` or `local`: where the Cloud APIs were. */
  target?: string;
  outcome: Outcome | 'running';
  startedAt: string;
  endedAt?: string;
  sink: { bucket: string; folder: string; dataPath: string };
  /** What the source offered: files, sizes, checksums, ETags, versions. */
  source?: SourceManifest;
  /**
   * What changed since the dataset's last collection (`../incremental.ts`): the collection compared with,
   * each file's change, and the files the source no longer offers. Only new and changed files are transferred.
   */
  changes?: {
    previous?: { collectionId: string; record: string };
    files: Omit<FileChange, 'current'>[];
    removed: string[];
    transferred: number;
    unchanged: number;
    /** Every file copied whatever changed (`--full`). */
    full: boolean;
  };
  /** After a success: the current copy of each file of the source, this collection's or an earlier one's. */
  current?: CurrentFile[];
  transfer: TransferReport;
  /** Changes made to the data before it was stored: none, since Storage Transfer Service copies bytes as is. */
  transformations: string[];
  integrity?: { ok: boolean; files: FileIntegrity[] };
  problems: Problem[];
  /** How the run failed, when it did. */
  failure?: { step: string; type: string; message: string };
}
