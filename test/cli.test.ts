/**
 * `coleta` as data engineers run it: help, bad input refused in one line before any workflow starts, and
 * `collect` against a real dev server and worker, printing the run, its Web UI link and the manifest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { COLLECTION_PHASE, DATASET_ID } from '../src/search-attributes';
import { PHASES, type Phase } from '../src/workflows';
import { spawn } from 'node:child_process';
import { BIN, coleta } from './helpers/cli';
import { collectionHarness, type CollectionHarness } from './helpers/fixtures';

describe('refusals, with no server at all', () => {
  // Nothing listens here: a refusal must come before any attempt to reach Temporal.
  const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const cases: [string, string[], RegExp][] = [
    [
      'an unknown preset',
      ['collect', '--preset', 'nope'],
      /^coleta: --preset: unknown preset "nope"; known: local-sample, local-kaggle, rees46, kaggle$/,
    ],
    [
      'a malformed URL',
      ['collect', '--url', 'not a url', '--dataset', 'd'],
      /^coleta: --url: "not a url" is not a URL$/,
    ],
    [
      'a URL of another scheme',
      ['collect', '--url', 'ftp://host/f.csv', '--dataset', 'd'],
      /^coleta: --url: "ftp:\/\/host\/f\.csv" is not http/,
    ],
    ['URLs without a dataset id', ['collect', '--url', 'https://host/f.csv'], /^coleta: --dataset: name the dataset/],
    [
      'a bad dataset id',
      ['collect', '--dataset', 'Has Spaces'],
      /^coleta: --dataset: "Has Spaces" is not a dataset id/,
    ],
    [
      'a bad bucket',
      ['collect', '--bucket', 'Not_A_Bucket'],
      /^coleta: --bucket: bucket name "Not_A_Bucket" may hold only/,
    ],
    [
      'a short bucket',
      ['collect', '--bucket', 'ab'],
      /^coleta: --bucket: bucket name "ab" is shorter than 3 characters$/,
    ],
    ['a bad prefix', ['collect', '--prefix', '/abs'], /^coleta: --prefix: "\/abs" must be empty or a path/],
    ['two sources', ['collect', '--preset', 'rees46', '--kaggle', 'a/b'], /^coleta: give one source/],
    [
      'a bad Kaggle name',
      ['collect', '--kaggle', 'just-one-part'],
      /^coleta: --kaggle: "just-one-part" is not owner\/slug$/,
    ],
    [
      'a bad version',
      ['collect', '--kaggle', 'a/b', '--version', '-3'],
      /^coleta: --version: "-3" is not a positive whole number$/,
    ],
    [
      'a version for an HTTP preset',
      ['collect', '--preset', 'rees46', '--version', '2'],
      /^coleta: --version and --file apply to Kaggle/,
    ],
    [
      'a malformed poll interval',
      ['collect', '--poll-interval', 'often'],
      /^coleta: --poll-interval: "often" is not a positive duration such as 30s, 5m or 2h$/,
    ],
    ['a negative poll interval', ['collect', '--poll-interval', '-5s'], /^coleta: --poll-interval: "-5s" is not a/],
    [
      'a poll interval too short',
      ['collect', '--poll-interval', '10ms'],
      /^coleta: --poll-interval: 10 ms is not a whole number of milliseconds of 100 or more$/,
    ],
    [
      'a poll interval not shorter than the deadline',
      ['collect', '--poll-interval', '1m', '--deadline', '30s'],
      /^coleta: --poll-interval: 60000 ms is not shorter than --deadline \(30000 ms\)$/,
    ],
    ['a deadline too long', ['collect', '--deadline', '8d'], /^coleta: --deadline: 691200000 ms is not between/],
    ['an unknown phase', ['list', '--phase', 'copying'], /^coleta: --phase: unknown phase "copying"; known: queued,/],
    ['an unknown outcome', ['list', '--outcome', 'ok'], /^coleta: --outcome: unknown outcome "ok"; known: running,/],
    ['a bad limit', ['list', '--limit', '0'], /^coleta: --limit: "0" is not a whole number from 1 to 1000$/],
    ['a bad dataset filter', ['list', '--dataset', 'A B'], /^coleta: --dataset: "A B" is not a dataset id$/],
    ['an unknown command', ['colect'], /^error: unknown command 'colect'/],
    ['an unknown option', ['collect', '--bukket', 'x'], /^error: unknown option '--bukket'/],
  ];
  for (const [what, args, pattern] of cases) {
    test(`refuses ${what} with exit code 2`, async () => {
      const result = await coleta(args, env);
      assert.equal(result.code, 2, result.stderr + result.stdout);
      assert.match(result.stderr.split('\n')[0] ?? '', pattern);
      assert.equal(result.stdout, '');
    });
  }

  test('a signed URL is refused without being printed', async () => {
    const secret = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const result = await coleta(
      ['collect', '--dataset', 'd', '--url', `https://h/f.csv?X-Goog-Signature=${secret}`],
      env,
    );
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^coleta: --url: a URL with a password, signature or token would be written to the workflow history/,
    );
    assert.ok(!result.stderr.includes(secret));
  });

  test('an unreachable Temporal server is named, with exit code 1', async () => {
    const result = await coleta(['collect', '--preset', 'local-sample'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^coleta: cannot reach Temporal at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS\)/);
  });

  test('a malformed setting is named', async () => {
    const result = await coleta(['collect'], { ...env, COLETA_WEB_UI_URL: 'not-a-url' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^coleta: COLETA_WEB_UI_URL="not-a-url": /);
  });

  test('--help lists the commands', async () => {
    const result = await coleta(['--help']);
    assert.equal(result.code, 0);
    const commands = ['collect', 'status', 'cancel', 'list', 'report', 'schedule', 'watch', 'presets', 'worker'];
    commands.push('stack', 'start', 'sample');
    for (const command of [...commands, 'origin', 'transfer-emulator', 'verify']) {
      assert.match(result.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    }
    const presets = await coleta(['presets']);
    assert.match(presets.stdout, /^rees46\s+ecommerce-behavior-rees46\s+the seven monthly files/m);
  });
});

describe('collect against a server', () => {
  let harness: CollectionHarness;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    harness = await collectionHarness('cli-test');
    env = {
      ...harness.workerEnv,
      COLETA_ORIGIN_URL: harness.origin.url,
      COLETA_WEB_UI_URL: 'http://127.0.0.1:18233',
    };
  });
  after(() => harness?.stop());

  test('prints the run, its Web UI link, its phases, the source manifest and the report summary', async () => {
    await harness.bucket('cli-bucket');
    const result = await coleta(['collect', '--preset', 'local-sample', '--bucket', 'cli-bucket'], env);
    assert.equal(result.code, 0, result.stderr);
    const id = /^started collection (collect-ecommerce-behavior-sample-[0-9a-f]{10})$/m.exec(result.stdout)?.[1];
    assert.ok(id, result.stdout);
    assert.match(
      result.stdout,
      new RegExp(`Web UI\\s+http://127\\.0\\.0\\.1:18233/namespaces/default/workflows/${id}/[0-9a-f-]{36}/history`),
    );
    assert.match(result.stdout, /source manifest of ecommerce-behavior-sample \(HTTP\): 2 files/);
    for (const file of ['2019-Oct.csv.gz', '2019-Nov.csv.gz']) {
      const onDisk = harness.sample.manifest.files.find((f) => f.path === `datasets/marketplace/${file}`);
      assert.ok(onDisk);
      assert.match(
        result.stdout,
        new RegExp(
          `^${file.replace(/\./g, '\\.')}\\s+\\d+\\.\\d KiB\\s+-\\s+-\\s+"[0-9a-f]+-${onDisk.bytes.toString(16)}"`,
          'm',
        ),
      );
    }
    // Not a terminal: a line at each phase the display saw (a quick run may pass some between two looks), each
    // once and in the workflow's order.
    const progress = result.stdout.slice(0, result.stdout.indexOf('source manifest of'));
    const seen = [...progress.matchAll(new RegExp(`^ {2}(${PHASES.join('|')})\\b`, 'gm'))].map(
      (match) => match[1] as Phase,
    );
    assert.ok(seen.length >= 1, result.stdout);
    assert.deepEqual(
      seen,
      [...new Set(seen)].sort((a, b) => PHASES.indexOf(a) - PHASES.indexOf(b)),
      'each phase once, in order',
    );
    const summary = /^collected (ecommerce-behavior-sample\/\S+): succeeded$/m.exec(result.stdout);
    assert.ok(summary, result.stdout);
    assert.match(result.stdout, /^ {2}transfer\s+SUCCESS, 2 objects, \d+\.\d KiB$/m);
    assert.match(result.stdout, /^ {2}integrity\s+intact: 2 files, \d+ rows, 0 invalid$/m);
    assert.match(result.stdout, /^ {2}changes\s+2 new: the first collection of this dataset here$/m);
    const record = `gs://cli-bucket/raw/${summary[1]}/collection.md`;
    assert.match(result.stdout, new RegExp(`^ {2}record\\s+${record.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
    const description = await harness.env.client.workflow.getHandle(id).describe();
    assert.equal(description.typedSearchAttributes.get(DATASET_ID), 'ecommerce-behavior-sample');
    assert.deepEqual(description.memo, {
      dataset: 'ecommerce-behavior-sample',
      sink: 'gs://cli-bucket/raw/',
      collection: summary[1],
      record,
    });

    // status, report and list of the finished run
    const status = await coleta(['status', id], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^status\s+COMPLETED$/m);
    assert.match(status.stdout, /^phase\s+done$/m);
    assert.match(status.stdout, /^outcome\s+succeeded$/m);
    assert.match(status.stdout, new RegExp(`^record\\s+${record.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
    const page = await coleta(['report', id], env);
    assert.equal(page.code, 0, page.stderr);
    assert.match(page.stdout, new RegExp(`^# Collection ${summary[1]!.replace('/', '\\/')}$`, 'm'));
    assert.match(page.stdout, /^## Integrity$/m);
    assert.match(page.stdout, /^\*\*All files intact\.\*\*$/m);
    const json = await coleta(['report', id, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { outcome: string; workflowId: string; integrity: { ok: boolean } };
    assert.equal(parsed.outcome, 'succeeded');
    assert.equal(parsed.workflowId, id);
    assert.equal(parsed.integrity.ok, true);
    const listed = await coleta(['list', '--dataset', 'ecommerce-behavior-sample', '--outcome', 'succeeded'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`^${id}\\s+COMPLETED\\s+ecommerce-behavior-sample\\s+done\\s+succeeded\\s`, 'm'),
    );
    const none = await coleta(['list', '--dataset', 'ecommerce-behavior-sample', '--outcome', 'cancelled'], env);
    assert.equal(none.code, 0, none.stderr);
    assert.doesNotMatch(none.stdout, new RegExp(id));
  });

  test('collecting again with nothing new says so, and copies nothing', async () => {
    // cli-bucket has the sample from the test before: the source has not changed since
    const result = await coleta(['collect', '--preset', 'local-sample', '--bucket', 'cli-bucket'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^collected ecommerce-behavior-sample\/\S+: succeeded, nothing changed$/m);
    assert.match(
      result.stdout,
      /^ {2}changes\s+none since ecommerce-behavior-sample\/\S+: no transfer job, nothing copied$/m,
    );
    assert.doesNotMatch(result.stdout, /^ {2}(job|operation)\s/m);
    const full = await coleta(['collect', '--preset', 'local-sample', '--bucket', 'cli-bucket', '--full'], env);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /^ {2}changes\s+2 new or changed, 0 unchanged since ecommerce-behavior-sample\/\S+$/m);
    assert.match(full.stdout, /^ {2}transfer\s+SUCCESS, 2 objects/m);
  });

  test('status, report and cancel of a workflow id that does not exist say so, with exit code 1', async () => {
    for (const command of ['status', 'report', 'cancel']) {
      const result = await coleta([command, 'collect-nothing-0000000000'], env);
      assert.equal(result.code, 1, command);
      assert.match(result.stderr, /^coleta: no collection has the workflow id "collect-nothing-0000000000"/, command);
    }
  });

  test('cancel stops a collection mid-transfer, and its transfer in the service', async () => {
    await harness.bucket('cancel-bucket');
    harness.transfer.faults.set({ bytesPerSecond: 10_000 });
    try {
      const started = await coleta(
        ['collect', '--bucket', 'cancel-bucket', '--no-wait', '--json', '--poll-interval', '200ms'],
        env,
      );
      assert.equal(started.code, 0, started.stderr);
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      const handle = harness.env.client.workflow.getHandle(workflowId);
      for (let i = 0; ; i += 1) {
        const phase = (await handle.describe()).typedSearchAttributes.get(COLLECTION_PHASE);
        if (phase === 'transfer') break;
        assert.ok(i < 300, `reached the transfer (in ${phase})`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const running = await coleta(['status', workflowId], env);
      assert.match(running.stdout, /^status\s+RUNNING$/m);
      assert.match(running.stdout, /^ {2}transfer\s+\[[#-]{24}\]\s+\d+%/m);
      const listed = await coleta(['list', '--phase', 'transfer'], env);
      assert.match(listed.stdout, new RegExp(`^${workflowId}\\s+RUNNING\\s`, 'm'));

      const cancelled = await coleta(['cancel', workflowId], env);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, new RegExp(`^${workflowId}: cancelled$`, 'm'));
      assert.match(
        cancelled.stdout,
        /^ {2}transfer operation transferOperations\/\S+: ABORTED, cancelled by the run, /m,
      );
      const again = await coleta(['cancel', workflowId], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /is not running: it is CANCELLED$/m);
      const page = await coleta(['report', workflowId], env);
      assert.match(page.stdout, /^\| Outcome \| \*\*cancelled\*\*/m);
    } finally {
      harness.transfer.faults.clear();
    }
  });

  test('--json gives the manifest to machines', async () => {
    await harness.bucket('coleta-raw');
    const result = await coleta(['collect', '--preset', 'local-kaggle', '--file', '2019-Nov.csv', '--json'], {
      ...env,
    });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as {
      workflowId: string;
      outcome: string;
      integrity: { files: number };
      manifest: { files: { name: string; md5: string }[] };
    };
    assert.equal(parsed.outcome, 'succeeded');
    assert.equal(parsed.integrity.files, 1);
    assert.deepEqual(
      parsed.manifest.files.map((file) => file.name),
      ['2019-Nov.csv'],
    );
    assert.match(parsed.manifest.files[0]!.md5, /^[A-Za-z0-9+/]{22}==$/);
  });

  test('collecting what is being collected attaches to the running run', async () => {
    await harness.bucket('attach-bucket');
    harness.origin.faults.set('/datasets/marketplace/2019-Oct.csv.gz', { delayMs: 1500, times: 1 });
    try {
      const first = coleta(['collect', '--bucket', 'attach-bucket'], env);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const second = await coleta(['collect', '--bucket', 'attach-bucket', '--no-wait'], env);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /^attached to the running collection collect-ecommerce-behavior-sample-/m);
      assert.equal((await first).code, 0);
    } finally {
      harness.origin.faults.clear();
    }
  });

  test('the worker stops cleanly on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const worker = spawn(process.execPath, [BIN, 'worker'], {
        env: { ...process.env, ...env, COLETA_TASK_QUEUE: `signal-${signal}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const running = new Promise<void>((resolve) => {
        const collect = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes("state: 'RUNNING'")) resolve();
        };
        worker.stdout.on('data', collect);
        worker.stderr.on('data', collect);
      });
      const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
      await Promise.race([running, exited]);
      worker.kill(signal);
      const started = Date.now();
      assert.equal(await exited, 0, output);
      assert.ok(Date.now() - started < 15_000, 'it stopped promptly');
      assert.match(output, /state: 'STOPPED'/);
    }
  });

  test('a failed collection prints why, with exit code 1', async () => {
    harness.origin.faults.set('/datasets/marketplace/2019-Nov.csv.gz', { status: 403 });
    try {
      const result = await coleta(['collect', '--bucket', 'failing-bucket'], env);
      assert.equal(result.code, 1);
      assert.match(
        result.stdout,
        /^collection failed: SourceForbidden: 2019-Nov\.csv\.gz: the source refuses access \(HTTP 403/m,
      );
    } finally {
      harness.origin.faults.clear();
    }
  });
});
