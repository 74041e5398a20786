/**
 * Shared pieces of the tests: a small generated sample, the origin serving it, free ports, the Go-built
 * tools, and a Temporal dev server with the project's search attributes. Everything is real and local.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Storage } from '@google-cloud/storage';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type Logger } from '@temporalio/worker';
import { loadRuntimeConfig, loadStackConfig } from '../../src/config';
import type { GoogleConfig } from '../../src/google';
import { startOrigin, type Origin } from '../../src/origin/server';
import { generateSample } from '../../src/sample/generate';
import type { SampleManifest } from '../../src/sample/layout';
import { COLLECTION_OUTCOME, COLLECTION_PHASE, DATASET_ID } from '../../src/search-attributes';
import { startTransferEmulator, type Emulator } from '../../src/transfer-emulator/server';
import { createWorker } from '../../src/worker';

/** Kaggle credentials the test origin accepts. */
export const KAGGLE_TEST_CREDENTIALS = { username: 'tester', key: 'kaggle-test-key-0123456789' };

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `coleta-${prefix}-`));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Generates a small sample (256 KiB of CSV a month by default) into a temporary folder. */
export async function smallSample(bytesPerMonth = 256 * 1024): Promise<{ root: string; manifest: SampleManifest }> {
  const root = tempDir('sample');
  const manifest = await generateSample({ root, seed: 7, bytesPerMonth });
  return { root, manifest };
}

/** Starts the origin on an ephemeral port over a sample folder, with the test Kaggle credentials. */
export function testOrigin(root: string, log?: (line: string) => void): Promise<Origin> {
  return startOrigin({ root, port: 0, kaggle: KAGGLE_TEST_CREDENTIALS, ...(log ? { log } : {}) });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The Temporal CLI and fake-gcs-server, as `npm run tools` builds them. */
export function toolPaths(): { temporal: string; fakeGcs: string } {
  const config = loadStackConfig();
  for (const bin of [config.temporalBin, config.fakeGcsBin]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run tools\` before the tests`);
  }
  return { temporal: config.temporalBin, fakeGcs: config.fakeGcsBin };
}

/**
 * Starts a Temporal dev server (the real one, built from source) with the project's search attributes, its
 * Web UI on `uiPort` and its Prometheus endpoint on `metricsPort` when asked.
 */
export function devServer(uiPort?: number, metricsPort?: number, logger?: Logger): Promise<TestWorkflowEnvironment> {
  // Warnings and errors only: the SDK's info lines for every state change drown the test report.
  Runtime.install({ logger: logger ?? new DefaultLogger('WARN') });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPaths().temporal },
      searchAttributes: [DATASET_ID, COLLECTION_PHASE, COLLECTION_OUTCOME],
      extraArgs: ['--log-level', 'error', ...(metricsPort ? ['--metrics-port', String(metricsPort)] : [])],
      ...(uiPort ? { ui: true, uiPort } : {}),
    },
  });
}

/**
 * Everything a collection runs against, all real and local: a dev server, the storage emulator, the transfer
 * emulator writing into it, the origin over a small sample, and a worker serving the collection on
 * `taskQueue` in this process.
 */
export interface CollectionHarness {
  env: TestWorkflowEnvironment;
  origin: Origin;
  sample: { root: string; manifest: SampleManifest };
  storage: StorageEmulator;
  transfer: Emulator;
  /** Where the worker finds the Google APIs. */
  google: GoogleConfig;
  /** The environment that points a worker process (`src/worker.ts`) at this harness. */
  workerEnv: NodeJS.ProcessEnv;
  taskQueue: string;
  /** Creates a bucket in the storage emulator (once). */
  bucket(name: string): Promise<void>;
  /** Stops the transfer emulator and starts it again on the same ports and state. */
  restartTransfer(): Promise<void>;
  /** Stops the worker of this process (to run one in another process instead). */
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a {@link CollectionHarness}; `stop()` ends everything it started. */
export async function collectionHarness(
  taskQueue: string,
  options: {
    uiPort?: number;
    temporalMetricsPort?: number;
    bytesPerMonth?: number;
    requestTimeoutMs?: number;
    /** More settings for the worker, such as COLETA_ALERT_WEBHOOK_URL; they are also in `workerEnv`. */
    extraEnv?: NodeJS.ProcessEnv;
    /** The SDK runtime's logger (the worker's and its activities' log), instead of warnings to stderr. */
    logger?: Logger;
  } = {},
): Promise<CollectionHarness> {
  const [env, sample, workflowBundle, storage] = await Promise.all([
    devServer(options.uiPort, options.temporalMetricsPort, options.logger),
    smallSample(options.bytesPerMonth),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger() }),
    storageEmulator(),
  ]);
  const origin = await testOrigin(sample.root);
  const stateFile = path.join(tempDir('transfer'), 'state.json');
  let transfer = await startTransferEmulator({ stateFile, storage: storage.storage });
  const workerEnv: NodeJS.ProcessEnv = {
    COLETA_TASK_QUEUE: taskQueue,
    TEMPORAL_ADDRESS: env.address,
    STORAGE_EMULATOR_HOST: storage.url,
    COLETA_TRANSFER_ENDPOINT: `127.0.0.1:${transfer.grpcPort}`,
    COLETA_TRANSFER_REST_PORT: String(transfer.restPort),
    KAGGLE_USERNAME: KAGGLE_TEST_CREDENTIALS.username,
    KAGGLE_KEY: KAGGLE_TEST_CREDENTIALS.key,
    ...options.extraEnv,
  };
  const config = loadRuntimeConfig(workerEnv);
  const { worker, clients } = await createWorker({
    config,
    connection: env.nativeConnection,
    workflowBundle,
    activitySettings: { requestTimeoutMs: options.requestTimeoutMs ?? 2000, env: workerEnv, verifyThreads: 1 },
  });
  const running = worker.run();
  let workerStopped = false;
  const buckets = new Set<string>();
  const harness: CollectionHarness = {
    env,
    origin,
    sample,
    storage,
    get transfer() {
      return transfer;
    },
    google: config.google,
    workerEnv,
    taskQueue,
    async bucket(name) {
      if (buckets.has(name)) return;
      await storage.storage.createBucket(name);
      buckets.add(name);
    },
    async restartTransfer() {
      const { grpcPort, restPort } = transfer;
      await transfer.close();
      transfer = await startTransferEmulator({ stateFile, storage: storage.storage, grpcPort, restPort });
    },
    async stopWorker() {
      if (workerStopped) return;
      workerStopped = true;
      worker.shutdown();
      await running;
      await clients.close();
    },
    async stop() {
      await harness.stopWorker();
      await transfer.close();
      await origin.close();
      await storage.stop();
      await env.teardown();
    },
  };
  return harness;
}

/** A logger that drops everything, for the bundler's chatter. */
export function quietLogger() {
  const noop = () => {};
  return { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
}

/** The storage emulator (fake-gcs-server), started on a free port over a temporary folder. */
export interface StorageEmulator {
  url: string;
  storage: Storage;
  stop(): Promise<void>;
}

/** Starts fake-gcs-server as the local stack does, and waits until it answers. */
export async function storageEmulator(): Promise<StorageEmulator> {
  const port = await freePort();
  const root = tempDir('gcs');
  const url = `http://127.0.0.1:${port}`;
  const args = ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-backend', 'filesystem'];
  args.push('-filesystem-root', root, '-public-host', `127.0.0.1:${port}`, '-log-level', 'warn');
  const child = spawn(toolPaths().fakeGcs, args, { stdio: 'ignore' });
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/storage/v1/b`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('fake-gcs-server did not answer within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    storage: new Storage({ apiEndpoint: url, projectId: 'coleta-test' }),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
