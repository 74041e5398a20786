/**
 * The worker's Prometheus metrics: the SDK's own (`temporal_*`) and the collection's (`coleta_*`), served
 * by the SDK runtime's exporter at `http://<COLETA_METRICS_HOST>:<COLETA_METRICS_PORT>/metrics`.
 *
 * - Runs started, succeeded, failed and cancelled are counted by the workflow (`./workflows/run-metrics.ts`).
 * - Bytes transferred and the transfer's duration are recorded by polling (`./activities/await-transfer.ts`);
 *   files and rows verified and the verification's throughput by the integrity check
 *   (`./activities/check-file.ts`).
 * - The freshness gauges are set by {@link watchFreshness}, from the dataset health the Temporal server keeps.
 *
 * The exporter belongs to the runtime, and the runtime is made once per process, before the first connection:
 * {@link installRuntime} makes it. Names have no prefix and counters no `_total` suffix (the SDK's defaults:
 * its `temporal_` prefix applies only to its own metrics), so each name below is the name a scrape shows.
 */
import { metricMeter as activityMeter, activityInfo, getClient, log as activityLog } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { IllegalStateError, noopMetricMeter, type Logger, type MetricMeter } from '@temporalio/common';
import { Runtime, type NativeConnection, type Worker } from '@temporalio/worker';
import type { RuntimeConfig } from './config';
import { datasetHealth } from './health';
import { DATASET_ID } from './search-attributes';

/** The project's metrics, by the names a scrape shows (the run counters are named in run-metrics.ts). */
export const METRICS = {
  transferBytes: 'coleta_transfer_bytes',
  transferDuration: 'coleta_transfer_duration_seconds',
  filesVerified: 'coleta_files_verified',
  rowsVerified: 'coleta_rows_verified',
  verificationThroughput: 'coleta_verification_throughput_mb_per_second',
  secondsSinceSuccess: 'coleta_seconds_since_last_success',
  lastSuccessTimestamp: 'coleta_last_success_timestamp_seconds',
  datasetStale: 'coleta_dataset_stale',
} as const;

/**
 * Bucket boundaries of the histograms: the SDK's default ones (50 to 10,000) are made for milliseconds. A
 * transfer takes seconds (the sample) to hours (the real files); a file verifies at tens to hundreds of MB/s.
 */
const BUCKETS: Record<string, number[]> = {
  [METRICS.transferDuration]: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400],
  [METRICS.verificationThroughput]: [1, 5, 10, 25, 50, 100, 150, 200, 300, 400, 500, 650, 800, 1000, 1500],
};

/** The address of the metrics endpoint, installed by {@link installRuntime}; undefined when none is. */
let served: string | undefined;

/** The port of the local stack's worker (`coleta start`), the OpenTelemetry Prometheus exporter's usual one. */
export const DEFAULT_WORKER_METRICS_PORT = 9464;

/** The URL a scrape reads: `http://127.0.0.1:9464/metrics`. */
export function metricsUrl(metrics: NonNullable<RuntimeConfig['metrics']>): string {
  const host = metrics.host.includes(':') ? `[${metrics.host}]` : metrics.host;
  return `http://${host}:${metrics.port}/metrics`;
}

/**
 * Installs the SDK runtime of this process, with the Prometheus exporter when `metrics` is given, and with
 * `logger` (the SDK's default, INFO to stderr, when absent). It must come before any connection is made, as
 * a connection installs a runtime without an exporter; a second install throws.
 */
export function installRuntime(options: { metrics?: RuntimeConfig['metrics']; logger?: Logger }): Runtime {
  const { metrics, logger } = options;
  const runtime = Runtime.install({
    ...(logger ? { logger } : {}),
    ...(metrics
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: { bindAddress: `${metrics.host}:${metrics.port}`, histogramBucketOverrides: BUCKETS },
            },
          },
        }
      : {}),
  });
  if (metrics) served = metricsUrl(metrics);
  return runtime;
}

/**
 * Makes sure that the runtime serves `metrics`: installs it if no runtime exists yet. A runtime that exists
 * already (the tests', or one installed by a caller with a logger of its own) cannot take an exporter any
 * more; that is said in the log, and the worker runs without the endpoint. Returns the URL served, if any.
 */
export function ensureMetricsRuntime(metrics: NonNullable<RuntimeConfig['metrics']>): string | undefined {
  if (served) return served;
  try {
    installRuntime({ metrics });
  } catch (error) {
    if (!(error instanceof IllegalStateError)) throw error;
    Runtime.instance().logger.warn(
      'COLETA_METRICS_PORT is set, but the SDK runtime was installed without the Prometheus exporter: ' +
        'no metrics endpoint',
      { metrics: metricsUrl(metrics) },
    );
  }
  return served;
}

/** Whether this process serves metrics (no metric is worth an extra call otherwise). */
export function metricsServed(): boolean {
  return served !== undefined;
}

/**
 * The activity's metric meter, tagged with the run's `dataset`: the one the workflow passed when it did,
 * otherwise the run's `DatasetId` search attribute, which every start of a collection sets. When the worker
 * serves no metrics it is the no-op meter, and the run is not asked.
 */
export async function datasetMeter(datasetId: string | undefined): Promise<MetricMeter> {
  if (!served) return noopMetricMeter;
  return activityMeter.withTags({ dataset: datasetId ?? (await datasetOfRun()) });
}

async function datasetOfRun(): Promise<string> {
  const { workflowExecution } = activityInfo();
  if (!workflowExecution) return 'unknown';
  try {
    const handle = getClient().workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId);
    return (await handle.describe()).typedSearchAttributes.get(DATASET_ID) ?? 'unknown';
  } catch (error) {
    activityLog.warn('the run could not be described for its dataset', { error: String(error) });
    return 'unknown';
  }
}

/** How often the freshness gauges are set by default. */
export const FRESHNESS_INTERVAL_MS = 30_000;
/** How long one reading of the datasets' health may take before it is abandoned. */
const FRESHNESS_DEADLINE_MS = 20_000;

/**
 * Sets the freshness gauges of every dataset now, then every `intervalMs`, until `stop()` or until `worker`
 * stops: the seconds since the dataset's last successful collection and when that was, and whether it is
 * stale by its schedules' freshness. Readings do not overlap, the timer does not keep the process alive,
 * and a failed reading (the server down) is logged, once per distinct error, never thrown. While readings
 * fail, the seconds since the last success keep counting from the last one known, so that a staleness alert
 * still fires when the server cannot say whether anything succeeded since.
 */
export function watchFreshness(
  connection: NativeConnection,
  namespace: string,
  worker: Pick<Worker, 'getState'>,
  intervalMs = FRESHNESS_INTERVAL_MS,
): { stop(): void } {
  const client = new Client({ connection, namespace });
  const { metricMeter, logger } = Runtime.instance();
  const sinceSuccess = metricMeter.createGauge(
    METRICS.secondsSinceSuccess,
    'float',
    's',
    'Seconds since the last successful collection of the dataset',
  );
  const lastSuccess = metricMeter.createGauge(
    METRICS.lastSuccessTimestamp,
    'float',
    's',
    'When the last successful collection of the dataset ended, in Unix seconds',
  );
  const stale = metricMeter.createGauge(
    METRICS.datasetStale,
    'int',
    '',
    "1 when the dataset's last success is older than its schedules' freshness (or it never succeeded), else 0",
  );
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastError: string | undefined;
  const known = new Map<string, number>();

  const ended = () => stopped || !['INITIALIZED', 'RUNNING'].includes(worker.getState());
  const read = async () => {
    if (ended()) return;
    try {
      const now = Date.now();
      const health = await client.withDeadline(now + FRESHNESS_DEADLINE_MS, () =>
        datasetHealth(client, now, { failureReasons: false }),
      );
      for (const dataset of health) {
        const tags = { dataset: dataset.dataset };
        if (dataset.lastSuccess) {
          const at = Date.parse(dataset.lastSuccess.at);
          known.set(dataset.dataset, at);
          sinceSuccess.set(Math.max(0, (now - at) / 1000), tags);
          lastSuccess.set(at / 1000, tags);
        }
        if (dataset.freshness !== 'not scheduled') stale.set(dataset.freshness === 'fresh' ? 0 : 1, tags);
      }
      if (lastError) logger.info('the freshness gauges are set again', { datasets: health.length });
      lastError = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!ended() && message !== lastError) {
        logger.warn('the freshness gauges could not be set; trying again', { error: message });
      }
      lastError = message;
      for (const [dataset, at] of known) sinceSuccess.set(Math.max(0, (Date.now() - at) / 1000), { dataset });
    }
    if (!ended()) timer = setTimeout(() => void read(), intervalMs).unref();
  };
  void read();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
