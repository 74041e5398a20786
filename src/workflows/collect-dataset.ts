/**
 * The collection workflow: takes a dataset from its source into the bucket, one step after the other.
 *
 * 1. Source access: what the source offers, exactly (the source manifest).
 *
 * The steps that follow (transfer launch, polling, integrity checks, documentation writes) are added to
 * this function in the same style: each one an activity with its own retry policy, the phase recorded as a
 * search attribute and in the current details, so that operators see in the Web UI where a run is.
 */
import {
  defineQuery,
  proxyActivities,
  setHandler,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_FAILURES } from '../failures';
import { COLLECTION_OUTCOME, COLLECTION_PHASE } from '../search-attributes';
import type { SourceManifest, SourceSpec } from '../source/types';

/** What to collect, and where. */
export interface CollectInput {
  /** A short name of the dataset (`ecommerce-behavior`), shown in the UI and used in names. */
  datasetId: string;
  source: SourceSpec;
  sink: { bucket: string; prefix: string };
}

/** The steps of a collection, in order. */
export type Phase = 'source-access' | 'done';

/** What a run reports while it runs, through {@link progressQuery}. */
export interface CollectionProgress {
  datasetId: string;
  phase: Phase;
  files?: number;
  totalBytes?: number;
}

/** What a run returns. */
export interface CollectionResult {
  datasetId: string;
  manifest: SourceManifest;
}

/** Asks a run where it is. */
export const progressQuery = defineQuery<CollectionProgress>('progress');

const { accessSource } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 8,
    nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
  },
});

/** Collects a dataset: see the module comment for the steps. */
export async function collectDataset(input: CollectInput): Promise<CollectionResult> {
  const progress: CollectionProgress = { datasetId: input.datasetId, phase: 'source-access' };
  setHandler(progressQuery, () => progress);

  try {
    // Step 1: source access.
    enterPhase(progress, 'source-access', `Finding out what ${describeSource(input.source)} offers`);
    const manifest = await accessSource.executeWithOptions(
      { summary: `Source access: list and probe the files of ${describeSource(input.source)}` },
      [{ datasetId: input.datasetId, source: input.source }],
    );
    progress.files = manifest.files.length;
    progress.totalBytes = manifest.totalBytes;

    enterPhase(
      progress,
      'done',
      `Source manifest ready: ${manifest.files.length} files, ${manifest.totalBytes} bytes ` +
        `(fingerprint ${manifest.fingerprint.slice(0, 12)})`,
    );
    upsertSearchAttributes([{ key: COLLECTION_OUTCOME, value: 'succeeded' }]);
    return { datasetId: input.datasetId, manifest };
  } catch (error) {
    upsertSearchAttributes([{ key: COLLECTION_OUTCOME, value: 'failed' }]);
    setCurrentDetails(`**Failed** in ${progress.phase}: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}

function enterPhase(progress: CollectionProgress, phase: Phase, details: string): void {
  progress.phase = phase;
  upsertSearchAttributes([{ key: COLLECTION_PHASE, value: phase }]);
  setCurrentDetails(`**${phase}** (${workflowInfo().workflowId}): ${details}`);
}

function describeSource(source: SourceSpec): string {
  if (source.kind === 'kaggle') {
    return `Kaggle ${source.owner}/${source.slug}${source.version ? ` version ${source.version}` : ''}`;
  }
  return `${source.urls.length} HTTP file${source.urls.length === 1 ? '' : 's'}`;
}
