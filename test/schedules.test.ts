/**
 * Continuous collection with Temporal Schedules, as data engineers drive it with `coleta schedule`: bad
 * specs refused before anything is created; against a real dev server and worker, a triggered schedule runs
 * a collection, a paused one starts nothing, and `coleta status` tells each dataset's health.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { coleta } from './helpers/cli';
import { collectionHarness, type CollectionHarness } from './helpers/fixtures';

describe('schedule refusals, with no server at all', () => {
  const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const cases: [string, string[], RegExp][] = [
    ['no time to run', ['schedule', 'create'], /^coleta: give when it runs: --every <interval> or --cron "<spec>"$/],
    [
      'both an interval and a cron spec',
      ['schedule', 'create', '--every', '1h', '--cron', '@daily'],
      /^coleta: give when/,
    ],
    ['a bad interval', ['schedule', 'create', '--every', 'hourly'], /^coleta: --every: "hourly" is not a positive/],
    ['a sub-second interval', ['schedule', 'create', '--every', '500ms'], /^coleta: --every: "500ms" is shorter than/],
    [
      'a cron spec of four fields',
      ['schedule', 'create', '--cron', '0 3 * *'],
      /^coleta: --cron: "0 3 \* \*" has 4 fields; give 5/,
    ],
    [
      'a minute out of range',
      ['schedule', 'create', '--cron', '61 * * * *'],
      /^coleta: --cron: "61" is not a minute \(0-59\) in "61 \* \* \* \*"$/,
    ],
    [
      'an unknown day name',
      ['schedule', 'create', '--cron', '0 3 * * FUN'],
      /^coleta: --cron: "FUN" is not a day of week/,
    ],
    ['a bad step', ['schedule', 'create', '--cron', '*/0 * * * *'], /^coleta: --cron: "\*\/0" has a bad step/],
    [
      'an unknown time zone',
      ['schedule', 'create', '--cron', '@daily', '--timezone', 'Mars/Olympus'],
      /^coleta: --timezone: "Mars\/Olympus" is not an IANA time zone/,
    ],
    [
      'a jitter as long as the interval',
      ['schedule', 'create', '--every', '1h', '--jitter', '1h'],
      /^coleta: --jitter: "1h" is not shorter than --every "1h"$/,
    ],
    ['an unknown preset', ['schedule', 'create', '--every', '1h', '--preset', 'nope'], /^coleta: --preset: unknown/],
    ['a bad bucket', ['schedule', 'create', '--every', '1h', '--bucket', 'A'], /^coleta: --bucket: bucket name "A"/],
    ['a bad schedule id', ['schedule', 'create', '--every', '1h', '--id', 'no spaces'], /^coleta: --id: "no spaces"/],
  ];
  for (const [what, args, pattern] of cases) {
    test(`refuses ${what} with exit code 2`, async () => {
      const result = await coleta(args, env);
      assert.equal(result.code, 2, result.stderr + result.stdout);
      assert.match(result.stderr.split('\n')[0] ?? '', pattern);
      assert.equal(result.stdout, '');
    });
  }
});

describe('schedules against a server', () => {
  let harness: CollectionHarness;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    harness = await collectionHarness('schedule-test');
    env = { ...harness.workerEnv, COLETA_ORIGIN_URL: harness.origin.url };
    await harness.bucket('scheduled');
  });
  after(() => harness?.stop());

  /** The runs a schedule has started, by the search attribute the server sets on them. */
  async function runsOf(scheduleId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const run of harness.env.client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}'` })) {
      ids.push(run.workflowId);
    }
    return ids;
  }

  test('a schedule carries what it collects, and a trigger runs a collection', async () => {
    const created = await coleta(
      ['schedule', 'create', '--id', 'hourly', '--every', '1h', '--bucket', 'scheduled', '--poll-interval', '200ms'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout,
      /^created schedule hourly: Collects ecommerce-behavior-sample into gs:\/\/scheduled\/raw\/ every 1h$/m,
    );
    assert.match(created.stdout, /^ {2}stale when the last success is over 2h old$/m);

    const again = await coleta(['schedule', 'create', '--id', 'hourly', '--every', '2h'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^coleta: a schedule "hourly" exists already/);

    const description = await harness.env.client.schedule.getHandle('hourly').describe();
    assert.deepEqual(description.memo, {
      dataset: 'ecommerce-behavior-sample',
      sink: 'gs://scheduled/raw/',
      when: 'every 1h',
      freshnessMs: 7_200_000,
    });
    assert.equal(description.policies.overlap, 'SKIP');
    assert.match(
      description.state.note ?? '',
      /^Collects ecommerce-behavior-sample into gs:\/\/scheduled\/raw\/ every 1h$/,
    );
    const action = description.action as { staticSummary?: string; workflowType: string };
    assert.equal(action.workflowType, 'collectDataset');
    assert.equal(action.staticSummary, 'Collect ecommerce-behavior-sample into gs://scheduled/raw/ (schedule hourly)');

    assert.deepEqual(await runsOf('hourly'), []);
    const triggered = await coleta(['schedule', 'trigger', 'hourly'], env);
    assert.equal(triggered.code, 0, triggered.stderr);
    let runs: string[] = [];
    for (let i = 0; i < 100 && runs.length === 0; i += 1) {
      runs = await runsOf('hourly');
      if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(runs.length, 1);
    assert.match(runs[0] ?? '', /^collect-ecommerce-behavior-sample-[0-9a-f]{10}-/);
    const result = await harness.env.client.workflow.getHandle(runs[0] as string).result();
    assert.equal((result as { outcome: string }).outcome, 'succeeded');

    const shown = await coleta(['schedule', 'describe', 'hourly'], env);
    assert.match(shown.stdout, /^runs\s+1$/m);
    assert.match(shown.stdout, new RegExp(`^${runs[0]}\\s`, 'm'));
    const listed = await coleta(['schedule', 'list'], env);
    assert.match(listed.stdout, /^hourly\s+active\s+ecommerce-behavior-sample\s+every 1h\s+\d{4}-\d\d-\d\dT\S+\s+1$/m);

    const health = await coleta(['status'], env);
    assert.equal(health.code, 0, health.stdout + health.stderr);
    assert.match(health.stdout, /^ecommerce-behavior-sample\s+\d+s ago\s+-\s+0\s+\d{4}-\S+\s+fresh \(within 2h\)$/m);
    // creating the schedule started the health watch, and status says that staleness is alerted
    assert.match(health.stdout, /^staleness alerts: the health watch coleta-health-watch runs$/m);

    const deleted = await coleta(['schedule', 'delete', 'hourly'], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await coleta(['schedule', 'describe', 'hourly'], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^coleta: no schedule has the id "hourly"/);
  });

  test('a paused schedule starts nothing until unpaused', async () => {
    const created = await coleta(
      ['schedule', 'create', '--id', 'every-2s', '--every', '2s', '--bucket', 'scheduled', '--paused'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created schedule every-2s \(paused\)/m);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.deepEqual(await runsOf('every-2s'), [], 'nothing started while paused');
    const description = await harness.env.client.schedule.getHandle('every-2s').describe();
    assert.equal(description.info.numActionsTaken, 0);

    assert.equal((await coleta(['schedule', 'unpause', 'every-2s'], env)).code, 0);
    let runs: string[] = [];
    for (let i = 0; i < 100 && runs.length === 0; i += 1) {
      runs = await runsOf('every-2s');
      if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(runs.length >= 1, 'unpaused, it starts runs');
    const paused = await coleta(['schedule', 'pause', 'every-2s', '--note', 'maintenance'], env);
    assert.equal(paused.code, 0, paused.stderr);
    const shown = await coleta(['schedule', 'describe', 'every-2s'], env);
    assert.match(shown.stdout, /^state\s+paused$/m);
    assert.match(shown.stdout, /^note\s+maintenance$/m);
    await coleta(['schedule', 'delete', 'every-2s'], env);
    for (const id of runs) {
      await harness.env.client.workflow
        .getHandle(id)
        .result()
        .catch(() => undefined);
    }
  });

  test('status tells a failing dataset, why, and exits 1', async () => {
    await harness.bucket('failing-status');
    harness.origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', { status: 404 });
    try {
      const failed = await coleta(['collect', '--bucket', 'failing-status', '--dataset', 'failing-dataset'], env);
      assert.equal(failed.code, 1);
    } finally {
      harness.origin.faults.clear();
    }
    const health = await coleta(['status'], env);
    assert.equal(health.code, 1, health.stdout + health.stderr);
    assert.match(health.stdout, /^failing-dataset\s+never\s+\d+s ago \(failed\)\s+0\s+-\s+not scheduled$/m);
    assert.match(
      health.stdout,
      /^ {2}failing-dataset: last failure collect-failing-dataset-[0-9a-f]{10}: SourceNotFound: 2019-Oct\.csv\.gz/m,
    );
    const json = JSON.parse((await coleta(['status', '--json'], env)).stdout) as {
      dataset: string;
      needsAttention: boolean;
    }[];
    assert.equal(json.find((item) => item.dataset === 'failing-dataset')?.needsAttention, true);
  });

  test('a cancelled run after a success leaves the dataset healthy', async () => {
    await harness.bucket('cancel-status');
    const flags = ['--bucket', 'cancel-status', '--dataset', 'cancel-dataset'];
    assert.equal((await coleta(['collect', ...flags], env)).code, 0);
    // the next run is slowed at the source, and cancelled on its way
    harness.origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', { delayMs: 3000 });
    try {
      const started = await coleta(['collect', ...flags, '--no-wait', '--json'], env);
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      assert.equal((await coleta(['cancel', workflowId], env)).code, 0);
    } finally {
      harness.origin.faults.clear();
    }
    const json = JSON.parse((await coleta(['status', '--json'], env)).stdout) as {
      dataset: string;
      lastFailure: { outcome: string } | null;
      needsAttention: boolean;
    }[];
    const dataset = json.find((item) => item.dataset === 'cancel-dataset');
    assert.equal(dataset?.lastFailure?.outcome, 'cancelled');
    assert.equal(dataset?.needsAttention, false);
  });
});
