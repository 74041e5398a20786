/**
 * `coleta` as data engineers run it: help, bad input refused in one line before any workflow starts, and
 * `collect` against a real dev server and worker, printing the run, its Web UI link and the manifest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATASET_ID } from '../src/search-attributes';
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
    for (const command of ['collect', 'presets', 'worker', 'stack', 'start', 'sample', 'origin']) {
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
      TEMPORAL_ADDRESS: harness.env.address,
      COLETA_TASK_QUEUE: harness.taskQueue,
      COLETA_ORIGIN_URL: harness.origin.url,
      COLETA_WEB_UI_URL: 'http://127.0.0.1:18233',
    };
  });
  after(() => harness?.stop());

  test('prints the run, its Web UI link and the source manifest', async () => {
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
    const description = await harness.env.client.workflow.getHandle(id).describe();
    assert.equal(description.typedSearchAttributes.get(DATASET_ID), 'ecommerce-behavior-sample');
    assert.deepEqual(description.memo, { dataset: 'ecommerce-behavior-sample', sink: 'gs://cli-bucket/raw/' });
  });

  test('--json gives the manifest to machines', async () => {
    const result = await coleta(['collect', '--preset', 'local-kaggle', '--file', '2019-Nov.csv', '--json'], {
      ...env,
    });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as {
      workflowId: string;
      manifest: { files: { name: string; md5: string }[] };
    };
    assert.deepEqual(
      parsed.manifest.files.map((file) => file.name),
      ['2019-Nov.csv'],
    );
    assert.match(parsed.manifest.files[0]!.md5, /^[A-Za-z0-9+/]{22}==$/);
  });

  test('collecting what is being collected attaches to the running run', async () => {
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
