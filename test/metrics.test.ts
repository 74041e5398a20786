/**
 * The Prometheus metrics, scraped from a worker process after a real collection on the real stack: the
 * project's counters, histograms and gauges with the values of that run, the SDK's own metrics beside them,
 * and the dev server's endpoint. Also the refusal of a malformed metrics port.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { collectionWorkflowId } from '../src/collection';
import { ConfigError, loadRuntimeConfig, loadStackConfig } from '../src/config';
import { presets } from '../src/dataset/presets';
import { DATASET_ID } from '../src/search-attributes';
import { collectDataset, type CollectionResult, type CollectInput } from '../src/workflows';
import { collectionHarness, freePort, type CollectionHarness } from './helpers/fixtures';

const ROOT = path.join(__dirname, '..');
const taskQueue = 'metrics-test';

let harness: CollectionHarness;
let worker: ChildProcess | undefined;
/** The worker's log, shown when it does not come up. */
let workerLog = '';
let metricsPort: number;
let temporalMetricsPort: number;

before(async () => {
  [metricsPort, temporalMetricsPort] = await Promise.all([freePort(), freePort()]);
  harness = await collectionHarness(taskQueue, { temporalMetricsPort });
  // The worker of this process has the tests' runtime, without an exporter: a worker process serves instead,
  // as `coleta worker` does, setting its freshness gauges every half second rather than every 30 s.
  await harness.stopWorker();
  worker = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', `require('./src/worker').runWorker({ freshnessIntervalMs: 500 })`],
    {
      cwd: ROOT,
      env: { ...process.env, ...harness.workerEnv, COLETA_METRICS_PORT: String(metricsPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let printed = '';
  worker.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  worker.stderr?.on('data', (chunk: Buffer) => (workerLog = (workerLog + chunk.toString()).slice(-20_000)));
  await until(
    () => {
      if (worker?.exitCode !== null) throw new Error(`the worker exited ${worker?.exitCode}:\n${workerLog}`);
      return printed.includes(`metrics at http://127.0.0.1:${metricsPort}/metrics`);
    },
    30_000,
    'the address',
  );
});

after(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker?.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await harness?.stop();
});

test('the metrics endpoint shows the project metrics with the values of a run, beside the SDK metrics', async () => {
  const preset = presets({ originUrl: harness.origin.url, kaggleApiUrl: `${harness.origin.url}/api/v1` }).find(
    (p) => p.name === 'local-sample',
  );
  assert.ok(preset);
  const dataset = preset.datasetId;
  const sink = { bucket: 'coleta-metrics', prefix: 'raw/' };
  await harness.bucket(sink.bucket);
  const input: CollectInput = { datasetId: dataset, source: preset.source, sink, transfer: { pollIntervalMs: 200 } };
  const handle = await harness.env.client.workflow.start(collectDataset, {
    taskQueue,
    workflowId: collectionWorkflowId(input),
    args: [input],
    typedSearchAttributes: [{ key: DATASET_ID, value: dataset }],
  });
  const result: CollectionResult = await handle.result();
  assert.equal(result.outcome, 'succeeded');
  const closedAt = (await handle.describe()).closeTime?.getTime();
  assert.ok(closedAt);

  // The freshness gauge follows the server's visibility, which knows of the success a moment later.
  let scrape = '';
  await until(
    async () => {
      scrape = await scrapeOf(metricsPort);
      return samples(scrape, 'coleta_seconds_since_last_success', { dataset }).length > 0;
    },
    20_000,
    'the freshness gauge',
  );

  const files = harness.sample.manifest.files.filter((file) => /^datasets\/marketplace\/.*\.csv\.gz$/.test(file.path));
  assert.equal(files.length, 2);
  const bytes = files.reduce((sum, file) => sum + file.bytes, 0);
  const rows = files.reduce((sum, file) => sum + file.rows, 0);
  assert.equal(result.integrity.rows, rows);

  assert.equal(total(scrape, 'coleta_runs_started', { dataset }), 1);
  assert.equal(total(scrape, 'coleta_runs_succeeded', { dataset }), 1);
  assert.equal(total(scrape, 'coleta_runs_failed', { dataset }), 0);
  assert.equal(total(scrape, 'coleta_transfer_bytes', { dataset }), bytes);
  assert.equal(total(scrape, 'coleta_files_verified', { dataset, result: 'intact' }), files.length);
  assert.equal(total(scrape, 'coleta_files_verified', { dataset, result: 'failed' }), 0);
  assert.ok(rows > 0);
  assert.equal(total(scrape, 'coleta_rows_verified', { dataset }), rows);

  assert.equal(total(scrape, 'coleta_transfer_duration_seconds_count', { dataset, outcome: 'succeeded' }), 1);
  const transferSeconds = total(scrape, 'coleta_transfer_duration_seconds_sum', { dataset });
  assert.ok(transferSeconds >= 0 && transferSeconds < 60, `transfer took ${transferSeconds} s`);
  assert.equal(total(scrape, 'coleta_transfer_duration_seconds_bucket', { dataset, le: '+Inf' }), 1);
  // the buckets are the ones made for seconds, not the SDK's default ones for milliseconds
  assert.equal(samples(scrape, 'coleta_transfer_duration_seconds_bucket', { dataset, le: '5' }).length, 1);

  assert.equal(total(scrape, 'coleta_verification_throughput_mb_per_second_count', { dataset }), files.length);
  assert.ok(total(scrape, 'coleta_verification_throughput_mb_per_second_sum', { dataset }) > 0);

  const since = total(scrape, 'coleta_seconds_since_last_success', { dataset });
  assert.ok(since >= 0 && since < 30, `${since} s since the last success`);
  const lastSuccess = total(scrape, 'coleta_last_success_timestamp_seconds', { dataset });
  assert.ok(Math.abs(lastSuccess - closedAt / 1000) < 2, `last success at ${lastSuccess}, closed at ${closedAt}`);
  // not scheduled: no freshness promised, so no staleness either way
  assert.equal(samples(scrape, 'coleta_dataset_stale', { dataset }).length, 0);

  for (const [name, type] of [
    ['coleta_runs_started', 'counter'],
    ['coleta_transfer_bytes', 'counter'],
    ['coleta_files_verified', 'counter'],
    ['coleta_rows_verified', 'counter'],
    ['coleta_transfer_duration_seconds', 'histogram'],
    ['coleta_verification_throughput_mb_per_second', 'histogram'],
    ['coleta_seconds_since_last_success', 'gauge'],
    ['coleta_last_success_timestamp_seconds', 'gauge'],
  ]) {
    assert.match(scrape, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
  }

  // the SDK's own, under their usual names
  assert.ok(total(scrape, 'temporal_workflow_completed', { workflow_type: 'collectDataset' }) >= 1);
  assert.ok(samples(scrape, 'temporal_request', {}).length > 0);
  assert.ok(total(scrape, 'temporal_activity_execution_latency_count', { activity_type: 'checkFile' }) >= 2);
});

test("the dev server serves its own metrics on the stack's metrics port", async () => {
  const scrape = await scrapeOf(temporalMetricsPort);
  assert.match(scrape, /^# TYPE \w+ (counter|gauge|histogram)$/m);
  assert.ok(samples(scrape, 'service_requests', { operation: 'StartWorkflowExecution' }).length > 0);
});

test('COLETA_METRICS_PORT and COLETA_TEMPORAL_METRICS_PORT are checked like every port', () => {
  assert.throws(
    () => loadRuntimeConfig({ COLETA_METRICS_PORT: 'abc' }),
    (error: unknown) => error instanceof ConfigError && /^COLETA_METRICS_PORT="abc": /.test(error.message),
  );
  assert.throws(() => loadRuntimeConfig({ COLETA_METRICS_PORT: '70000' }), /^ConfigError: COLETA_METRICS_PORT=/);
  assert.deepEqual(loadRuntimeConfig({ COLETA_METRICS_PORT: '9464' }).metrics, { host: '127.0.0.1', port: 9464 });
  assert.equal(loadRuntimeConfig({}).metrics, undefined);

  assert.equal(loadStackConfig({}).ports.temporalMetrics, 7235);
  assert.throws(
    () => loadStackConfig({ COLETA_TEMPORAL_METRICS_PORT: 'x' }),
    /^ConfigError: COLETA_TEMPORAL_METRICS_PORT/,
  );
  assert.throws(
    () => loadStackConfig({ COLETA_TEMPORAL_METRICS_PORT: '8233' }),
    /COLETA_TEMPORAL_METRICS_PORT and COLETA_TEMPORAL_UI_PORT are both 8233/,
  );
});

/** What the Prometheus endpoint on `port` answers; nothing while it does not answer. */
async function scrapeOf(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
  return response?.ok ? response.text() : '';
}

/** One sample of a scrape: its labels and value. */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of `name` in a scrape (text exposition format) whose labels include `labels`. */
function samples(scrape: string, name: string, labels: Record<string, string>): Sample[] {
  const found: Sample[] = [];
  for (const line of scrape.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const own = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]),
    ) as Record<string, string>;
    if (Object.entries(labels).every(([key, value]) => own[key] === value)) {
      found.push({ labels: own, value: Number(match[3]) });
    }
  }
  return found;
}

/** The sum of the matching samples (0 when there are none). */
function total(scrape: string, name: string, labels: Record<string, string>): number {
  return samples(scrape, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not show within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
