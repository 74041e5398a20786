/** The workflows the worker serves. */
export { collectDataset, PHASES, progressQuery } from './collect-dataset';
export type { CollectInput, CollectionProgress, CollectionResult, Phase } from './collect-dataset';
