/**
 * The collection's own counters of runs, by dataset: counted from workflow code, so that a run is counted
 * once however many workers replay it (the SDK drops metrics emitted during replay). The worker exports
 * them on its Prometheus endpoint with the SDK's own (see `../metrics.ts`).
 */
import { metricMeter } from '@temporalio/workflow';

const started = metricMeter.createCounter('coleta_runs_started', 'runs', 'Collection runs started');
const ended = {
  succeeded: metricMeter.createCounter('coleta_runs_succeeded', 'runs', 'Collection runs that succeeded'),
  failed: metricMeter.createCounter('coleta_runs_failed', 'runs', 'Collection runs that failed'),
  cancelled: metricMeter.createCounter('coleta_runs_cancelled', 'runs', 'Collection runs that were cancelled'),
};

/** Counts a run of `dataset` as started. */
export function countRunStarted(dataset: string): void {
  started.add(1, { dataset });
}

/** Counts a run of `dataset` as ended with `outcome`. */
export function countRunEnded(dataset: string, outcome: keyof typeof ended): void {
  ended[outcome].add(1, { dataset });
}
