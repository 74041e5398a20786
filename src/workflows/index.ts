/** The workflows the worker serves. */
export { collectDataset, PHASES, progressQuery } from './collect-dataset';
export type { CollectInput, CollectionProgress, CollectionResult, Phase } from './collect-dataset';
export { HEALTH_WATCH_ID, openIncidentsQuery, watchHealth } from './watch-health';
export type { WatchHealthInput } from './watch-health';
