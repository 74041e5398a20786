/**
 * Benchmark of a whole collection on the local stack (the real dev server, the storage emulator, the
 * transfer emulator, the origin, one worker), printing:
 *
 * 1. the time from `collect` to the written record for the sample (two monthly .csv.gz files), and the
 *    orchestration overhead: that time less the transfer's own (the operation's start to end) and the
 *    verification's own (the integrity step's first start to last end);
 * 2. the history events of a run, and of a run whose transfer is slowed down to last a minute while polled
 *    every second: the count does not grow with the transfer's length (at most 20 progress signals);
 * 3. 50 collections at once on one worker: wall time, run times (median, 95th percentile), outcomes, and the
 *    process's peak memory.
 *
 * Usage: `npm run bench:collect [size of each month's CSV, default 2MiB]`. Needs the Go-built tools.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { collectionWorkflowId } from '../src/collection';
import { presets } from '../src/dataset/presets';
import { parseByteSize } from '../src/sample/generate';
import { collectDataset, type CollectInput, type CollectionResult } from '../src/workflows';
import { collectionHarness, type CollectionHarness } from '../test/helpers/fixtures';

const TASK_QUEUE = 'bench-collect';

type Handle = WorkflowHandle<typeof collectDataset>;

async function main(): Promise<void> {
  const bytesPerMonth = parseByteSize(process.argv[2] ?? '2MiB');
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${gib(os.totalmem())} GiB`);
  const harness = await collectionHarness(TASK_QUEUE, { bytesPerMonth, requestTimeoutMs: 30_000 });
  try {
    const sampleBytes = harness.sample.manifest.files
      .filter((file) => file.path.endsWith('.csv.gz'))
      .reduce((sum, file) => sum + file.bytes, 0);
    console.log(
      `sample: 2 .csv.gz files, ${(sampleBytes / 1e6).toFixed(2)} MB (${process.argv[2] ?? '2MiB'} of CSV each)`,
    );

    // Warm-up: the first run pays for loading the Google libraries and the workflow's first activation.
    await run(harness, 'bench-warmup', 200);

    console.log('\n== one collection, collect to written record');
    let quick: Awaited<ReturnType<typeof timed>> | undefined;
    for (const pollMs of [200, 1000]) {
      const times: Awaited<ReturnType<typeof timed>>[] = [];
      for (let i = 0; i < 3; i++) times.push(await timed(harness, `bench-one-${pollMs}-${i}`, pollMs));
      const median = (key: 'total' | 'transfer' | 'verification' | 'overhead') =>
        times.map((t) => t[key]).sort((a, b) => a - b)[1] ?? 0;
      console.log(
        `poll every ${pollMs} ms: total ${median('total')} ms, transfer ${median('transfer')} ms, ` +
          `verification ${median('verification')} ms, orchestration overhead ${median('overhead')} ms ` +
          `(medians of 3), ${times[0]?.events} history events`,
      );
      console.log(`  the steps, last run: ${times[2]?.steps}`);
      quick = times[0];
    }

    console.log('\n== a run with nothing new: the same source again into a bucket that has it');
    const unchanged: { ms: number; events: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const again = await run(harness, `bench-one-200-${i}`, 200);
      if (again.result.changes?.transferred !== 0) throw new Error('the run found changes where there were none');
      unchanged.push({ ms: again.ms, events: (await again.handle.fetchHistory()).events?.length ?? 0 });
    }
    const unchangedMs = unchanged.map((u) => u.ms).sort((a, b) => a - b)[1] ?? 0;
    console.log(
      `nothing changed: total ${Math.round(unchangedMs)} ms (median of 3), ${unchanged[0]?.events} history events, ` +
        'no transfer job',
    );

    console.log('\n== history events of a transfer that lasts a minute, polled every second');
    harness.transfer.faults.set({ bytesPerSecond: Math.ceil(sampleBytes / 60) });
    const slow = await timed(harness, 'bench-slow', 1000);
    harness.transfer.faults.clear();
    // Polling is one activity however long the copy, and it signals progress at most 20 times: the events
    // beyond a quick run's are the signals' (each with its workflow task), so a longer transfer adds only the
    // signals it has left.
    const perSignal =
      quick && slow.signals > quick.signals ? (slow.events - quick.events) / (slow.signals - quick.signals) : 4;
    const hour = Math.ceil(slow.events + (20 - slow.signals) * perSignal);
    console.log(
      `transfer ${(slow.transfer / 1000).toFixed(0)} s: ${slow.events} events, of which ${slow.signals} progress ` +
        `signals (${perSignal.toFixed(1)} events each); a one-hour transfer: at most about ${hour} events (20 signals)`,
    );

    console.log('\n== 50 collections at once, one worker');
    const started = performance.now();
    const buckets = Array.from({ length: 50 }, (_, i) => `bench-many-${i}`);
    const durations = await Promise.all(buckets.map((bucket) => run(harness, bucket, 1000)));
    const wall = performance.now() - started;
    const sorted = durations.map((d) => d.ms).sort((a, b) => a - b);
    const ok = durations.filter((d) => d.result.outcome === 'succeeded').length;
    console.log(
      `${ok} of 50 succeeded in ${seconds(wall)} s wall; per run median ${seconds(percentile(sorted, 0.5))} s, ` +
        `p95 ${seconds(percentile(sorted, 0.95))} s; ${((50 * sampleBytes) / 1e6 / (wall / 1000)).toFixed(1)} MB/s ` +
        `collected; peak RSS of this process (worker, emulators, origin) ${peakRssMiB()} MiB`,
    );
  } finally {
    await harness.stop();
  }
}

/** Starts a collection into `bucket` and waits for its result. */
async function run(harness: CollectionHarness, bucket: string, pollIntervalMs: number) {
  await harness.bucket(bucket);
  const preset = presets({ originUrl: harness.origin.url, kaggleApiUrl: `${harness.origin.url}/api/v1` }).find(
    (candidate) => candidate.name === 'local-sample',
  );
  if (!preset) throw new Error('no local-sample preset');
  const input: CollectInput = {
    datasetId: preset.datasetId,
    source: preset.source,
    sink: { bucket, prefix: 'raw/' },
    transfer: { pollIntervalMs },
  };
  const begin = performance.now();
  const handle: Handle = await harness.env.client.workflow.start(collectDataset, {
    taskQueue: TASK_QUEUE,
    workflowId: `${collectionWorkflowId(input)}-${Date.now()}`,
    args: [input],
  });
  const result: CollectionResult = await handle.result();
  return { ms: performance.now() - begin, result, handle };
}

/** One collection, with its time split into the transfer's, the verification's and the rest. */
async function timed(harness: CollectionHarness, bucket: string, pollIntervalMs: number) {
  const { ms, handle } = await run(harness, bucket, pollIntervalMs);
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const [record] = await harness.storage.storage
    .bucket(bucket)
    .file(`raw/${(await handle.result()).collectionId}/collection.json`)
    .download();
  const transfer = JSON.parse(record.toString()) as { transfer: { startTime: string; endTime: string } };
  const transferMs = Date.parse(transfer.transfer.endTime) - Date.parse(transfer.transfer.startTime);
  const verificationMs = activitySpan(events, 'checkFile');
  return {
    total: Math.round(ms),
    transfer: transferMs,
    verification: Math.round(verificationMs),
    overhead: Math.round(ms - transferMs - verificationMs),
    events: events.length,
    steps: [
      'accessSource',
      'preflight',
      'planIncremental',
      'launchTransfer',
      'awaitTransfer',
      'checkFile',
      'writeDocumentation',
      'notifyOutcome',
    ]
      .map((type) => `${type} ${Math.round(activitySpan(events, type))} ms`)
      .join(', '),
    signals: events.filter((event) => event.workflowExecutionSignaledEventAttributes).length,
  };
}

/** From the first scheduling of an activity type to the last completion of it, in milliseconds. */
function activitySpan(events: temporal.api.history.v1.IHistoryEvent[], type: string): number {
  const scheduled = new Map<number, number>();
  let first = Infinity;
  let last = 0;
  for (const event of events) {
    const time = Number(event.eventTime?.seconds ?? 0) * 1000 + Number(event.eventTime?.nanos ?? 0) / 1e6;
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === type) {
      scheduled.set(Number(event.eventId), time);
      first = Math.min(first, time);
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && scheduled.has(Number(completed.scheduledEventId))) last = Math.max(last, time);
  }
  return last > 0 ? last - first : 0;
}

/** Milliseconds as seconds with one decimal. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

function peakRssMiB(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
