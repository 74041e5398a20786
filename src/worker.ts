/**
 * The worker: serves the collection workflow and its activities on one task queue of the Temporal server
 * that the usual Temporal environment variables name (127.0.0.1:7233 by default). Scaling out is starting
 * more of these on the same task queue. It stops cleanly on SIGINT and SIGTERM: it takes no new tasks,
 * lets running activities see the cancellation, and exits once they are done.
 *
 * With `COLETA_METRICS_PORT` set it serves Prometheus metrics on that port (see `./metrics.ts`).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivitySettings } from './activities';
import { GoogleClients } from './activities/google-clients';
import { loadRuntimeConfig, type RuntimeConfig } from './config';
import { ensureMetricsRuntime, watchFreshness } from './metrics';

/** How to make a worker: everything has a default from the configuration. */
export interface WorkerSetup {
  config?: RuntimeConfig;
  activitySettings?: Partial<ActivitySettings>;
  /** A connection to use instead of one made from the configuration; the caller then closes it. */
  connection?: NativeConnection;
  /** A workflow bundle made once (tests share one); by default the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** How often the freshness gauges are set when metrics are served; 30 s by default. */
  freshnessIntervalMs?: number;
}

/** A worker made by {@link createWorker}, with what it owns. */
export interface CreatedWorker {
  worker: Worker;
  connection: NativeConnection;
  clients: GoogleClients;
  /** Where the worker's metrics are served, when they are. */
  metricsUrl?: string;
  /** Stops setting the freshness gauges (they also stop with the worker). */
  stopMetrics(): void;
}

/** The activity settings a worker uses unless told otherwise. */
export function defaultActivitySettings(config: RuntimeConfig, env: NodeJS.ProcessEnv = process.env): ActivitySettings {
  return {
    requestTimeoutMs: 30_000,
    concurrency: 4,
    env,
    google: config.google,
    // alerts link to the Web UI this configuration names (the stack's, for `coleta start`)
    alerting: { webUiUrl: config.webUiUrl, ...(config.alerts ? { alerts: config.alerts } : {}) },
  };
}

/**
 * Connects to Temporal and creates the worker, ready to `run()`. The connection returned is the caller's to
 * close after the worker has stopped. When the configuration asks for metrics, the SDK runtime is installed
 * with the Prometheus exporter first, unless this process has installed a runtime already (the connection
 * would otherwise install one without it).
 */
export async function createWorker(setup: WorkerSetup = {}): Promise<CreatedWorker> {
  const config = setup.config ?? loadRuntimeConfig();
  const metricsUrl = config.metrics ? ensureMetricsRuntime(config.metrics) : undefined;
  const connection = setup.connection ?? (await NativeConnection.connect(config.temporal.connection));
  const settings = { ...defaultActivitySettings(config), ...setup.activitySettings };
  const clients = new GoogleClients(settings.google);
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      ...(setup.workflowBundle
        ? { workflowBundle: setup.workflowBundle }
        : { workflowsPath: require.resolve('./workflows') }),
      activities: createActivities(settings, clients),
    });
    const freshness = metricsUrl
      ? watchFreshness(connection, config.temporal.namespace, worker, setup.freshnessIntervalMs)
      : undefined;
    return {
      worker,
      connection,
      clients,
      ...(metricsUrl ? { metricsUrl } : {}),
      stopMetrics: () => freshness?.stop(),
    };
  } catch (error) {
    if (!setup.connection) await connection.close();
    throw error;
  }
}

/** Runs a worker until SIGINT or SIGTERM (the SDK's runtime turns these signals into a graceful shutdown). */
export async function runWorker(setup: WorkerSetup = {}): Promise<void> {
  const { worker, connection, clients, metricsUrl, stopMetrics } = await createWorker(setup);
  if (metricsUrl) console.log(`coleta worker: metrics at ${metricsUrl}`);
  try {
    await worker.run();
  } finally {
    stopMetrics();
    await clients.close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((error: unknown) => {
    console.error(`coleta worker: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
