/**
 * The names of one collection, all derived from the run that makes it, so that every attempt of every step
 * (a retry, a restarted worker, a second client attached to the same run) arrives at the same ones: the
 * folder its raw data lands in, its URL list and documents, and its transfer job. Pure functions, used by the
 * workflow and the activities alike.
 */

/** Where one collection's files go, under the sink prefix. */
export interface CollectionNames {
  /** `ecommerce-behavior/20261203T192501Z-9c1d3f2a4b5e`: the dataset, the run's start and its id. */
  collectionId: string;
  /** The folder of the collection: `<sink prefix><collection id>/`. Raw data lands under `<folder>data/`. */
  folder: string;
  /** Where the transfer copies to (`gcsDataSink.path`). */
  dataPath: string;
  /** The URL list the transfer reads. */
  urlList: string;
  /** The record, for machines. */
  recordJson: string;
  /** The record, for people. */
  recordMarkdown: string;
  /** The transfer job: `transferJobs/coleta-<dataset>-<stamp>`. */
  jobName: string;
}

/**
 * The names of the collection that run `runId`, started at `startTime`, makes of `datasetId` under `prefix`.
 * A later run has a later start and another run id, so its data never lands on an earlier one's.
 */
export function collectionNames(datasetId: string, prefix: string, startTime: Date, runId: string): CollectionNames {
  // The run id's last twelve hex digits are random (in the UUIDv4 and v7 that servers make); its first ones
  // are a timestamp in v7, and repeat for runs started close together.
  const time = startTime
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const stamp = `${time}-${runId.replace(/-/g, '').slice(-12)}`;
  const collectionId = `${datasetId}/${stamp}`;
  const folder = `${prefix}${collectionId}/`;
  return {
    collectionId,
    folder,
    dataPath: `${folder}data/`,
    urlList: `${folder}urls.tsv`,
    recordJson: `${folder}collection.json`,
    recordMarkdown: `${folder}collection.md`,
    jobName: `transferJobs/coleta-${datasetId}-${stamp}`,
  };
}
