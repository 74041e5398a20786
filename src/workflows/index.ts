/** The workflows the worker serves. */
export { collectDataset, progressQuery } from './collect-dataset';
export type { CollectInput, CollectionProgress, CollectionResult, Phase } from './collect-dataset';
