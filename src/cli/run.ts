/**
 * The long-running and local commands: `coleta start` (the main job on the local stack), `coleta sample`
 * (the generator), `coleta origin` (the download server, as the stack runs it) and `coleta watch` (the
 * health watch, which runs on the workers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { ConfigError, loadRuntimeConfig, loadStackConfig } from '../config';
import { MONTHS } from '../dataset/schema';
import { Storage } from '@google-cloud/storage';
import { startOrigin } from '../origin/server';
import { startTransferEmulator } from '../transfer-emulator/server';
import { generateSample, parseByteSize } from '../sample/generate';
import { createWorker } from '../worker';
import { stackPaths } from '../stack/supervisor';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { WorkflowNotFoundError } from '@temporalio/client';
import { InputError } from '../collection';
import type { RuntimeConfig } from '../config';
import { HEALTH_WATCH_ID } from '../workflows';
import { collect, connectClient } from './collect';
import { collectInputFromOptions, parseDuration } from './collect-input';
import { formatBytes, formatDuration, table } from './format';
import { DEFAULT_WORKER_METRICS_PORT, installRuntime, metricsUrl } from '../metrics';
import { RunError } from './run-error';
import { startHealthWatch } from './schedules';
import { stackUp } from './stack';

/**
 * The main job: brings the local stack up (or finds it up), runs a worker in this process, collects the
 * local sample and prints the result with the Web UI link. The stack stays up afterwards for the Web UI.
 */
export async function runStart(out = console.log): Promise<number> {
  const stackConfig = loadStackConfig();
  const config = loadRuntimeConfig({
    ...process.env,
    COLETA_TEMPORAL_UI_PORT: String(stackConfig.ports.temporalUi),
    COLETA_ORIGIN_PORT: String(stackConfig.ports.origin),
    COLETA_BUCKET: stackConfig.bucket,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? `127.0.0.1:${stackConfig.ports.temporal}`,
    // the stack's worker serves its metrics where docs/prometheus/prometheus.yml scrapes them
    COLETA_METRICS_PORT: process.env.COLETA_METRICS_PORT ?? String(DEFAULT_WORKER_METRICS_PORT),
  });
  await stackUp(stackConfig, out);
  out('');
  const workerLog = path.join(stackPaths(stackConfig).logs, 'worker.log');
  installRuntime({
    ...(config.metrics ? { metrics: config.metrics } : {}),
    logger: new DefaultLogger('INFO', (entry) => appendLogEntry(workerLog, entry)),
  });
  out(`starting a worker on task queue "${config.taskQueue}" (its log: ${path.relative(process.cwd(), workerLog)})`);
  if (config.metrics) out(`  its metrics: ${metricsUrl(config.metrics)}`);
  const { worker, connection } = await createWorker({ config });
  const running = worker.run();
  try {
    const options = { preset: 'local-sample', wait: true };
    const code = await collect(collectInputFromOptions(options, config), options, config, out);
    out('');
    out('the local stack stays up for the Web UI; stop it with `npm run stack:down`');
    return code;
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
}

/** Appends one log entry as a line: time, level, message and its fields as JSON. */
function appendLogEntry(file: string, entry: LogEntry): void {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const fields = entry.meta && Object.keys(entry.meta).length > 0 ? ` ${JSON.stringify(entry.meta)}` : '';
  fs.appendFileSync(file, `${time} ${entry.level} ${entry.message}${fields}\n`);
}

/** `coleta sample`: writes the sample and prints its manifest. */
export async function runSampleCommand(options: { out: string; size: string; seed: string; months: string }) {
  let bytesPerMonth: number;
  try {
    bytesPerMonth = parseByteSize(options.size);
  } catch (error) {
    throw new ConfigError(`--size: ${(error as Error).message}`);
  }
  if (!/^\d+$/.test(options.seed)) throw new ConfigError(`--seed: "${options.seed}" is not a whole number`);
  const months = options.months.split(',').map((month) => month.trim());
  const unknown = months.filter((month) => !MONTHS.some((known) => known.name === month));
  if (unknown.length > 0) {
    throw new ConfigError(`--months: unknown ${unknown.join(', ')}; known: ${MONTHS.map((m) => m.name).join(', ')}`);
  }
  const root = path.resolve(options.out);
  const started = process.hrtime.bigint();
  const manifest = await generateSample({ root, seed: Number(options.seed), bytesPerMonth, months });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    table([
      ['file', 'bytes', 'rows', 'md5', 'crc32c'],
      ...manifest.files.map((file) => [file.path, formatBytes(file.bytes), String(file.rows), file.md5, file.crc32c]),
    ]),
  );
  console.log(`\nwrote ${root} in ${seconds.toFixed(1)} s`);
  return 0;
}

/** The flags of `coleta origin`. */
export interface OriginCommandOptions {
  root: string;
  port: string;
  host: string;
  publicUrl?: string;
}

/** `coleta origin`: serves a sample folder until SIGINT or SIGTERM. */
export async function runOriginCommand(options: OriginCommandOptions) {
  if (!/^\d+$/.test(options.port) || Number(options.port) > 65535) {
    throw new ConfigError(`--port: "${options.port}" is not a port number`);
  }
  const stack = loadStackConfig();
  const origin = await startOrigin({
    root: path.resolve(options.root),
    port: Number(options.port),
    host: options.host,
    ...(options.publicUrl ? { publicBaseUrl: options.publicUrl } : {}),
    kaggle: stack.originKaggle,
    log: (line) => console.log(line),
  });
  console.log(`origin serving ${path.resolve(options.root)} at ${origin.url}`);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await origin.close();
  return 0;
}

/** The flags of `coleta transfer-emulator`. */
export interface TransferEmulatorOptions {
  grpcPort: string;
  restPort: string;
  host: string;
  state?: string;
  storageUrl?: string;
}

/** `coleta transfer-emulator`: serves the Storage Transfer Service emulator until SIGINT or SIGTERM. */
export async function runTransferEmulatorCommand(options: TransferEmulatorOptions) {
  for (const [flag, value] of [
    ['--grpc-port', options.grpcPort],
    ['--rest-port', options.restPort],
  ] as const) {
    if (!/^\d+$/.test(value) || Number(value) > 65535) {
      throw new ConfigError(`${flag}: "${value}" is not a port number`);
    }
  }
  const storageUrl = options.storageUrl ?? process.env.STORAGE_EMULATOR_HOST ?? 'http://127.0.0.1:4443';
  if (!/^https?:\/\/[^/]+/.test(storageUrl)) {
    throw new ConfigError(`--storage-url: "${storageUrl}" is not an http(s) URL`);
  }
  const emulator = await startTransferEmulator({
    host: options.host,
    grpcPort: Number(options.grpcPort),
    restPort: Number(options.restPort),
    ...(options.state ? { stateFile: path.resolve(options.state) } : {}),
    storage: new Storage({ apiEndpoint: storageUrl, projectId: 'coleta-local' }),
  });
  console.log(
    `transfer emulator: gRPC ${options.host}:${emulator.grpcPort}, REST http://${options.host}:${emulator.restPort}, ` +
      `sink API ${storageUrl}, state ${options.state ? path.resolve(options.state) : 'in memory'}`,
  );
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await emulator.close();
  return 0;
}

/** The flags of `coleta watch`. */
export interface WatchCommandOptions {
  every?: string;
  stop?: boolean;
}

/** How long `coleta watch --stop` waits for the watch to end on a cancellation before it terminates it. */
const WATCH_STOP_WAIT_MS = 10_000;

/**
 * `coleta watch`: starts the health watch unless it runs already (a running watch keeps its interval), or with
 * `--stop` cancels it, and terminates it if no worker ends it within ten seconds.
 */
export async function runWatchCommand(options: WatchCommandOptions, config: RuntimeConfig, out = console.log) {
  if (options.stop && options.every !== undefined) throw new InputError('--every and --stop do not go together');
  const everyMs = options.every === undefined ? undefined : parseDuration('--every', options.every);
  if (everyMs !== undefined && everyMs < 1000) {
    throw new InputError(`--every: "${options.every}" is shorter than a second`);
  }
  const client = await connectClient(config);
  try {
    if (!options.stop) {
      const watch = await startHealthWatch(client, config, everyMs);
      if (watch.started) {
        out(`started the health watch ${HEALTH_WATCH_ID}: a check every ${formatDuration(everyMs ?? 60_000)}`);
      } else out(`the health watch ${HEALTH_WATCH_ID} runs already (stop it with --stop to change its interval)`);
      out(`  Web UI  ${watch.link}`);
      out(`  alerts  go to the workers' COLETA_ALERT_WEBHOOK_URL`);
      return 0;
    }
    const handle = client.workflow.getHandle(HEALTH_WATCH_ID);
    let running: boolean;
    try {
      running = (await handle.describe()).status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) running = false;
      else throw error;
    }
    if (!running) throw new RunError(`the health watch ${HEALTH_WATCH_ID} is not running`);
    await handle.cancel();
    const ended = await Promise.race([
      handle.result().then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), WATCH_STOP_WAIT_MS).unref()),
    ]);
    if (ended) out(`stopped the health watch ${HEALTH_WATCH_ID}`);
    else {
      await handle.terminate('coleta watch --stop: no worker ended it on cancellation');
      out(`terminated the health watch ${HEALTH_WATCH_ID}: no worker ended it within ${WATCH_STOP_WAIT_MS / 1000} s`);
    }
    return 0;
  } finally {
    await client.connection.close();
  }
}
