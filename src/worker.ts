/**
 * The worker: serves the collection workflow and its activities on one task queue of the Temporal server
 * that the usual Temporal environment variables name (127.0.0.1:7233 by default). Scaling out is starting
 * more of these on the same task queue. It stops cleanly on SIGINT and SIGTERM: it takes no new tasks,
 * lets running activities see the cancellation, and exits once they are done.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivitySettings } from './activities';
import { GoogleClients } from './activities/google-clients';
import { loadRuntimeConfig, type RuntimeConfig } from './config';

/** How to make a worker: everything has a default from the configuration. */
export interface WorkerSetup {
  config?: RuntimeConfig;
  activitySettings?: Partial<ActivitySettings>;
  /** A connection to use instead of one made from the configuration; the caller then closes it. */
  connection?: NativeConnection;
  /** A workflow bundle made once (tests share one); by default the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** The activity settings a worker uses unless told otherwise. */
export function defaultActivitySettings(config: RuntimeConfig, env: NodeJS.ProcessEnv = process.env): ActivitySettings {
  return { requestTimeoutMs: 30_000, concurrency: 4, env, google: config.google };
}

/**
 * Connects to Temporal and creates the worker, ready to `run()`. The connection returned is the caller's to
 * close after the worker has stopped.
 */
export async function createWorker(
  setup: WorkerSetup = {},
): Promise<{ worker: Worker; connection: NativeConnection; clients: GoogleClients }> {
  const config = setup.config ?? loadRuntimeConfig();
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
    return { worker, connection, clients };
  } catch (error) {
    if (!setup.connection) await connection.close();
    throw error;
  }
}

/** Runs a worker until SIGINT or SIGTERM (the SDK's runtime turns these signals into a graceful shutdown). */
export async function runWorker(): Promise<void> {
  const { worker, connection, clients } = await createWorker();
  try {
    await worker.run();
  } finally {
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
