/**
 * The collection's own counters of runs, by dataset: counted from workflow code, so that a run is counted
 * once however many workers replay it (the SDK drops metrics emitted during replay). The worker exports
 * them on its Prometheus endpoint with the SDK's own (see `../metrics.ts`). The counters are made when used:
 * the workflow's meter exists only inside a workflow, and clients import this module for its types.
 */
import { metricMeter } from '@temporalio/workflow';

const ENDED = {
  succeeded: ['coleta_runs_succeeded', 'Collection runs that succeeded'],
  failed: ['coleta_runs_failed', 'Collection runs that failed'],
  cancelled: ['coleta_runs_cancelled', 'Collection runs that were cancelled'],
} as const;

/** Counts a run of `dataset` as started. */
export function countRunStarted(dataset: string): void {
  metricMeter.createCounter('coleta_runs_started', 'runs', 'Collection runs started').add(1, { dataset });
  // every outcome's series exists from the first run on, so that increase() sees a dataset's first failure
  for (const [name, description] of Object.values(ENDED)) {
    metricMeter.createCounter(name, 'runs', description).add(0, { dataset });
  }
}

/** Counts a run of `dataset` as ended with `outcome`. */
export function countRunEnded(dataset: string, outcome: keyof typeof ENDED): void {
  const [name, description] = ENDED[outcome];
  metricMeter.createCounter(name, 'runs', description).add(1, { dataset });
}
