/**
 * Alerts, posted to a real webhook receiver on 127.0.0.1: the bodies and their text, delivery that retries a
 * 500 and a 429, gives up on a 400 and on a receiver that never answers, and never throws; then, against a
 * real dev server and worker, a failing collection that alerts once per incident and once when it recovers,
 * and the health watch that alerts once when a scheduled dataset goes stale and once when it is fresh again.
 * The webhook's token appears in no body, no log line and no workflow history.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { alertBody, alertText, deliverAlert, type Alert, type AlertLogger } from '../src/alerts';
import { isStale, makeNotify, type OutcomeNotice } from '../src/activities/notify';
import { collectionWorkflowId } from '../src/collection';
import { loadRuntimeConfig } from '../src/config';
import { presets } from '../src/dataset/presets';
import type { DatasetHealth } from '../src/health';
import { runWatchCommand } from '../src/cli/run';
import { runMetadata } from '../src/cli/collect';
import { DATASET_ID } from '../src/search-attributes';
import { collectDataset, HEALTH_WATCH_ID, openIncidentsQuery, type CollectInput } from '../src/workflows';
import { coleta } from './helpers/cli';
import { collectionHarness, freePort, type CollectionHarness } from './helpers/fixtures';

/** The webhook's secret part, as chat services put it in the path of an incoming webhook's URL. */
const TOKEN = 'T0KEN-secret';

/** One POST the receiver got. */
interface Post {
  path: string;
  contentType: string | undefined;
  body: { text: string; alert?: Alert & Record<string, unknown> };
}

/** An answer of the receiver: a status (with headers), or `hang` to never answer. */
type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/** A local webhook receiver: it records every POST and answers with the next of `answers` (200 when none). */
async function webhookReceiver() {
  const posts: Post[] = [];
  const answers: Answer[] = [];
  const server = http.createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      posts.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body: JSON.parse(text) as Post['body'],
      });
      const answer = answers.shift() ?? { status: 200 };
      if (answer === 'hang') return;
      response.writeHead(answer.status, answer.headers).end(answer.status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    posts,
    answers,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/hooks/${TOKEN}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A logger that keeps every line it is given. */
function keptLog(): AlertLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message, meta) => lines.push(`INFO ${message} ${JSON.stringify(meta ?? {})}`),
    warn: (message, meta) => lines.push(`WARN ${message} ${JSON.stringify(meta ?? {})}`),
  };
}

const failedAlert: Alert = {
  kind: 'failed',
  dataset: 'ecommerce-behavior-sample',
  workflowId: 'collect-ecommerce-behavior-sample-0123456789',
  runId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  phase: 'source-access',
  reason:
    'SourceNotFound: 2019-Oct.csv.gz: https://origin.example/2019-Oct.csv.gz?X-Goog-Signature=s1gnature answered 404',
  webUi: 'http://127.0.0.1:8233/namespaces/default/workflows/collect-ecommerce-behavior-sample-0123456789/0190/history',
  record: 'gs://coleta-raw/raw/ecommerce-behavior-sample/20261204T051058Z-617a68686e14/collection.md',
  at: '2026-12-04T05:11:00.000Z',
};

describe('alert bodies and delivery, with a local receiver', () => {
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  before(async () => (receiver = await webhookReceiver()));
  after(() => receiver.close());

  test('the text names the dataset, run, phase, reason, record and Web UI link, and hides signatures', () => {
    const text = alertText(failedAlert);
    const lines = text.split('\n');
    assert.equal(lines[0], '[coleta] FAILED: collection of `ecommerce-behavior-sample` failed in source-access');
    assert.match(text, /^Reason: SourceNotFound: 2019-Oct\.csv\.gz: https:\/\/origin\.example\/2019-Oct\.csv\.gz\?/m);
    assert.match(
      text,
      /^Run: `collect-ecommerce-behavior-sample-0123456789` run `0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b`$/m,
    );
    assert.match(text, /^Record: gs:\/\/coleta-raw\/raw\/ecommerce-behavior-sample\/\S+\/collection\.md$/m);
    assert.match(text, /^Web UI: http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/\S+\/history$/m);
    assert.doesNotMatch(text, /s1gnature/);
    assert.ok(lines.length <= 7, text);
  });

  test('the text format is {"text"} alone; the json format adds the fields', () => {
    const plain = alertBody(failedAlert, 'text');
    assert.deepEqual(Object.keys(plain), ['text']);
    assert.equal(plain.text, alertText(failedAlert));
    const json = alertBody(failedAlert, 'json') as { text: string; alert: Alert };
    assert.deepEqual(Object.keys(json), ['text', 'alert']);
    assert.equal(json.alert.kind, 'failed');
    assert.equal(json.alert.runId, failedAlert.runId);
    assert.equal(json.alert.phase, 'source-access');
    assert.doesNotMatch(JSON.stringify(json), /s1gnature/);
  });

  test('a 500 is retried until it is delivered; no token in the body or the log', async () => {
    receiver.posts.length = 0;
    receiver.answers.push({ status: 500 }, { status: 503 });
    const log = keptLog();
    const delivery = await deliverAlert(
      failedAlert,
      { webhookUrl: receiver.url, format: 'json' },
      { backoffMs: 50, log },
    );
    assert.deepEqual(delivery, { delivered: true, attempts: 3, status: 200, retryable: false });
    assert.equal(receiver.posts.length, 3);
    assert.equal(receiver.posts[0]?.path, `/hooks/${TOKEN}`);
    assert.equal(receiver.posts[0]?.contentType, 'application/json');
    assert.equal(receiver.posts[2]?.body.text, alertText(failedAlert));
    assert.ok(
      log.lines.some((line) => line.includes(receiver.host)),
      log.lines.join('\n'),
    );
    assert.equal(log.lines.filter((line) => line.startsWith('WARN alert not delivered yet')).length, 2);
    for (const text of [...log.lines, JSON.stringify(receiver.posts.map((post) => post.body))]) {
      assert.doesNotMatch(text, /T0KEN/);
    }
  });

  test("a 429's Retry-After is honoured", async () => {
    receiver.posts.length = 0;
    receiver.answers.push({ status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const delivery = await deliverAlert(failedAlert, { webhookUrl: receiver.url, format: 'text' }, { backoffMs: 10 });
    assert.equal(delivery.delivered, true);
    assert.equal(delivery.attempts, 2);
    assert.ok(Date.now() - started >= 950, `retried after ${Date.now() - started} ms`);
  });

  test('a 400 is not retried', async () => {
    receiver.posts.length = 0;
    receiver.answers.push({ status: 400 });
    const log = keptLog();
    const delivery = await deliverAlert(
      failedAlert,
      { webhookUrl: receiver.url, format: 'text' },
      { backoffMs: 10, log },
    );
    assert.deepEqual(delivery, { delivered: false, attempts: 1, status: 400, retryable: false, error: 'HTTP 400' });
    assert.equal(receiver.posts.length, 1);
    assert.match(log.lines.at(-1) ?? '', /^WARN alert not delivered .*"webhook":"127\.0\.0\.1:\d+"/);
    assert.doesNotMatch(log.lines.join('\n'), /T0KEN/);
  });

  test('a receiver that never answers gives up within the bound, and nothing throws', async () => {
    receiver.posts.length = 0;
    receiver.answers.push('hang', 'hang', 'hang', 'hang');
    const log = keptLog();
    const started = Date.now();
    const delivery = await deliverAlert(
      failedAlert,
      { webhookUrl: receiver.url, format: 'text' },
      { timeoutMs: 300, totalMs: 1500, backoffMs: 100, log },
    );
    const took = Date.now() - started;
    assert.equal(delivery.delivered, false);
    assert.equal(delivery.retryable, true);
    assert.equal(delivery.error, 'no answer within the timeout');
    assert.ok(delivery.attempts >= 2 && delivery.attempts <= 4, String(delivery.attempts));
    assert.ok(took < 2500, `took ${took} ms`);
    assert.doesNotMatch(log.lines.join('\n'), /T0KEN/);
  });

  test('without a webhook, or for a cancelled run, notifyOutcome sends nothing and says why', async () => {
    const notice: OutcomeNotice = {
      datasetId: 'quiet',
      workflowId: 'collect-quiet-0123456789',
      runId: 'run-1',
      collectionId: 'quiet/20261204T000000Z-0123456789ab',
      outcome: 'failed',
      phase: 'transfer',
      reason: 'TransferFailed: the transfer failed',
    };
    const unconfigured = makeNotify({ webUiUrl: 'http://127.0.0.1:8233' });
    assert.deepEqual(await unconfigured.notifyOutcome(notice), {
      sent: null,
      delivered: false,
      why: 'no alert webhook is configured (COLETA_ALERT_WEBHOOK_URL)',
    });
    receiver.posts.length = 0;
    const configured = makeNotify({
      webUiUrl: 'http://127.0.0.1:8233',
      alerts: { webhookUrl: receiver.url, format: 'text' },
    });
    assert.deepEqual(await configured.notifyOutcome({ ...notice, outcome: 'cancelled' }), {
      sent: null,
      delivered: false,
      why: 'a cancelled run alerts no one',
    });
    assert.equal(receiver.posts.length, 0);
  });

  test('a dataset that never succeeded is stale once it has been scheduled for longer than its freshness', () => {
    const health: DatasetHealth = {
      dataset: 'never',
      lastSuccess: null,
      lastFailure: null,
      running: [],
      schedules: ['collect-never'],
      nextRun: null,
      freshnessMs: 60_000,
      scheduledSince: '2026-12-04T08:00:00.000Z',
      freshness: 'never succeeded',
      needsAttention: true,
    };
    assert.equal(isStale(health, Date.parse('2026-12-04T08:00:59.000Z')), false);
    assert.equal(isStale(health, Date.parse('2026-12-04T08:01:01.000Z')), true);
    assert.equal(isStale({ ...health, freshness: 'not scheduled', freshnessMs: null }, Date.now()), false);
    assert.equal(isStale({ ...health, freshness: 'stale' }, Date.parse('2026-12-04T08:00:01.000Z')), true);
    assert.equal(isStale({ ...health, freshness: 'fresh' }, Date.now()), false);
  });

  test('a refused connection is not delivered, and says so without the URL', async () => {
    const port = await freePort();
    const delivery = await deliverAlert(
      failedAlert,
      { webhookUrl: `http://127.0.0.1:${port}/hooks/${TOKEN}`, format: 'text' },
      { backoffMs: 20, totalMs: 2000 },
    );
    assert.equal(delivery.delivered, false);
    assert.equal(delivery.attempts, 4);
    assert.match(delivery.error ?? '', /ECONNREFUSED/);
    assert.doesNotMatch(delivery.error ?? '', /T0KEN/);
  });
});

describe('alerts from collections and the health watch, against a server', () => {
  let harness: CollectionHarness;
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  const logLines: string[] = [];
  const taskQueue = 'alerts-test';

  before(async () => {
    receiver = await webhookReceiver();
    const logger = new DefaultLogger('INFO', (entry: LogEntry) => {
      const meta = JSON.stringify(entry.meta ?? {}, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      const line = `${entry.level} ${entry.message} ${meta}`;
      logLines.push(line);
      if (entry.level === 'ERROR') console.error(line);
    });
    harness = await collectionHarness(taskQueue, {
      logger,
      extraEnv: { COLETA_ALERT_WEBHOOK_URL: receiver.url, COLETA_ALERT_FORMAT: 'json' },
    });
    await harness.bucket('alerts');
  });
  after(async () => {
    await harness?.stop();
    await receiver?.close();
  });

  function collectInput(datasetId: string): CollectInput {
    const preset = presets({ originUrl: harness.origin.url, kaggleApiUrl: `${harness.origin.url}/api/v1` }).find(
      (p) => p.name === 'local-sample',
    );
    assert.ok(preset);
    return {
      datasetId,
      source: preset.source,
      sink: { bucket: 'alerts', prefix: 'raw/' },
      transfer: { pollIntervalMs: 200 },
    };
  }

  /** Runs a collection to its end; returns its run id and whether it succeeded. */
  async function run(input: CollectInput): Promise<{ workflowId: string; runId: string; ok: boolean }> {
    const workflowId = collectionWorkflowId(input);
    const handle = await harness.env.client.workflow.start(collectDataset, {
      taskQueue,
      workflowId,
      args: [input],
      ...runMetadata(input),
    });
    const ok = await handle.result().then(
      () => true,
      () => false,
    );
    // the next run judges its incident by this one, as visibility lists it once it has closed
    const query =
      `${DATASET_ID.name} = '${input.datasetId}' AND RunId = '${handle.firstExecutionRunId}' ` +
      `AND ExecutionStatus != 'Running'`;
    for (let i = 0; i < 100; i += 1) {
      if ((await harness.env.client.workflow.count(query)).count === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { workflowId, runId: handle.firstExecutionRunId, ok };
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

  async function historiesHoldNoToken(runs: { workflowId: string; runId?: string }[]) {
    for (const { workflowId, runId } of runs) {
      const history = await harness.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      const text = JSON.stringify(history, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      assert.ok(text.length > 1000, 'the history was read');
      assert.doesNotMatch(text, /T0KEN/, `history of ${workflowId}`);
      // payloads are base64 in the history: the token must not be there either
      assert.ok(!text.includes(Buffer.from(TOKEN).toString('base64').slice(0, 12)), `history of ${workflowId}`);
    }
  }

  test('a failing run alerts once per incident, and once when it recovers', async () => {
    const input = collectInput('alerted-dataset');
    harness.origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', { status: 404 });
    let first: Awaited<ReturnType<typeof run>>;
    let second: Awaited<ReturnType<typeof run>>;
    try {
      first = await run(input);
      assert.equal(first.ok, false);
      await settle();
      assert.equal(receiver.posts.length, 1, JSON.stringify(receiver.posts.map((post) => post.body.text)));
      const post = receiver.posts[0] as Post;
      assert.equal(post.path, `/hooks/${TOKEN}`);
      const alert = post.body.alert as Alert;
      assert.equal(alert.kind, 'failed');
      assert.equal(alert.dataset, 'alerted-dataset');
      assert.equal(alert.workflowId, first.workflowId);
      assert.equal(alert.runId, first.runId);
      assert.equal(alert.phase, 'source-access');
      assert.match(alert.reason, /^SourceNotFound: 2019-Oct\.csv\.gz/);
      assert.equal(
        alert.webUi,
        `http://127.0.0.1:8233/namespaces/default/workflows/${first.workflowId}/${first.runId}/history`,
      );
      assert.match(alert.record ?? '', /^gs:\/\/alerts\/raw\/alerted-dataset\/\S+\/collection\.md$/);
      assert.match(post.body.text, new RegExp(`^Run: \`${first.workflowId}\` run \`${first.runId}\`$`, 'm'));
      assert.match(post.body.text, /^\[coleta\] FAILED: collection of `alerted-dataset` failed in source-access$/m);

      second = await run(input);
      assert.equal(second.ok, false);
      await settle();
      assert.equal(receiver.posts.length, 1, 'the second failure is the same incident');
    } finally {
      harness.origin.faults.clear();
    }

    const third = await run(input);
    assert.equal(third.ok, true);
    await settle();
    assert.equal(receiver.posts.length, 2);
    const recovered = receiver.posts[1]?.body.alert as Alert;
    assert.equal(recovered.kind, 'recovered');
    assert.equal(recovered.runId, third.runId);
    assert.match(recovered.reason, new RegExp(`after the failure of ${second.workflowId} run ${second.runId}`));

    await historiesHoldNoToken([first, second, third]);
    assert.ok(
      logLines.some((line) => line.includes(`"webhook":"${receiver.host}"`)),
      'the worker logged its alerts',
    );
    assert.doesNotMatch(logLines.join('\n'), /T0KEN/);
  });

  test('the health watch alerts once when a dataset goes stale, and once when it is fresh again', async () => {
    receiver.posts.length = 0;
    const config = loadRuntimeConfig(harness.workerEnv);
    const printed: string[] = [];
    assert.equal(await runWatchCommand({ every: '1s' }, config, (line) => printed.push(line)), 0);
    assert.match(printed[0] ?? '', /^started the health watch coleta-health-watch: a check every 1s$/);
    const watch = harness.env.client.workflow.getHandle(HEALTH_WATCH_ID);
    const description = await watch.describe();
    assert.match(
      (await description.staticSummary()) ?? '',
      /^Health watch: alerts when a scheduled dataset goes stale/,
    );

    // a schedule that is due on 29 February only, so that it runs nothing now, with a freshness of 5 s
    const env = { ...harness.workerEnv, COLETA_ORIGIN_URL: harness.origin.url };
    const created = await coleta(
      ['schedule', 'create', '--id', 'stale-soon', '--dataset', 'never-collected', '--bucket', 'alerts'].concat([
        '--cron',
        '0 0 29 2 *',
        '--freshness',
        '5s',
      ]),
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^ {2}health watch coleta-health-watch runs already: http:\/\/127\.0\.0\.1:8233\//m);

    const stalePosts = () => receiver.posts.filter((post) => post.body.alert?.kind === 'stale');
    for (let i = 0; i < 200 && stalePosts().length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(stalePosts().length, 1, 'one stale alert');
    const stale = stalePosts()[0]?.body.alert as Alert;
    assert.equal(stale.dataset, 'never-collected');
    assert.match(stale.reason, /^never succeeded, though scheduled since \S+; expected within 5s$/);
    assert.equal(stale.webUi, 'http://127.0.0.1:8233/namespaces/default/schedules/stale-soon');
    assert.deepEqual(await watch.query(openIncidentsQuery), ['never-collected']);

    // three more checks: the incident is open, so nothing more is sent
    await new Promise((resolve) => setTimeout(resolve, 3500));
    assert.equal(receiver.posts.length, 1, JSON.stringify(receiver.posts.map((post) => post.body.text)));

    const collected = await run(collectInput('never-collected'));
    assert.equal(collected.ok, true);
    const freshPosts = () => receiver.posts.filter((post) => post.body.alert?.kind === 'fresh-again');
    for (let i = 0; i < 40 && freshPosts().length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(freshPosts().length, 1, JSON.stringify(receiver.posts.map((post) => post.body.text)));
    assert.equal(freshPosts()[0]?.body.alert?.dataset, 'never-collected');
    assert.equal(freshPosts()[0]?.body.alert?.workflowId, collected.workflowId);
    assert.match(freshPosts()[0]?.body.alert?.reason ?? '', /^succeeded at \S+, within 5s$/);
    assert.deepEqual(await watch.query(openIncidentsQuery), []);
    assert.ok(
      receiver.posts.every((post) => post.body.alert?.dataset === 'never-collected'),
      'no other dataset is alerted: alerted-dataset has no schedule',
    );

    printed.length = 0;
    assert.equal(await runWatchCommand({ stop: true }, config, (line) => printed.push(line)), 0);
    assert.deepEqual(printed, ['stopped the health watch coleta-health-watch']);
    assert.equal((await watch.describe()).status.name, 'CANCELLED');
    await coleta(['schedule', 'delete', 'stale-soon'], env);

    await historiesHoldNoToken([{ workflowId: HEALTH_WATCH_ID }, collected]);
    assert.doesNotMatch(logLines.join('\n'), /T0KEN/);
  });
});
