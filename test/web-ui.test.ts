/**
 * What operators see in the Temporal Web UI, checked in a real browser (Chromium, driven by playwright-core):
 * runs found by their dataset, and a run's page telling in words what it collects, where it is and what each
 * step did; a failed run's page saying why; a schedule's page saying what it collects, where and when. The runs
 * and schedules are made with `coleta`, as data engineers do.
 *
 * Needs Chromium at /usr/bin/chromium (Debian's `chromium` package; `.ci/run` installs it).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { coleta } from './helpers/cli';
import { collectionHarness, freePort, type CollectionHarness } from './helpers/fixtures';

const CHROMIUM = '/usr/bin/chromium';
let harness: CollectionHarness;
let browser: Browser;
let page: Page;
let ui: string;
const taskQueue = 'web-ui-test';

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
  const uiPort = await freePort();
  ui = `http://127.0.0.1:${uiPort}`;
  [harness, browser] = await Promise.all([
    collectionHarness(taskQueue, { uiPort }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
  ]);
  page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
});

after(async () => {
  await browser?.close();
  await harness?.stop();
});

/** Runs `coleta collect` against the harness and returns the workflow id it printed. */
async function collect(bucket: string, args: string[] = []): Promise<string> {
  await harness.bucket(bucket);
  const result = await coleta(['collect', '--preset', 'local-sample', '--bucket', bucket, ...args], {
    ...harness.workerEnv,
    COLETA_ORIGIN_URL: harness.origin.url,
    COLETA_WEB_UI_URL: ui,
  });
  const id = /(collect-ecommerce-behavior-sample-[0-9a-f]+)/.exec(result.stdout)?.[1];
  assert.ok(id, `no workflow id in:\n${result.stdout}\n${result.stderr}`);
  return id;
}

/** Waits until a frame of the page shows `text`: the Web UI renders user metadata (Markdown) in frames. */
async function framesShow(text: string | RegExp, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const frame of page.frames()) {
      if (
        (await frame
          .getByText(text)
          .count()
          .catch(() => 0)) > 0
      ) {
        return;
      }
    }
    if (Date.now() > deadline) {
      await page.screenshot({ path: 'web-ui-failure.png', fullPage: true });
      throw new Error(`the page does not show ${String(text)} (see web-ui-failure.png)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Waits until the page shows `text` (the Web UI fills its pages in as it polls). */
async function shows(text: string | RegExp, timeout = 30_000) {
  await page.getByText(text).first().waitFor({ state: 'visible', timeout });
}

test('the run page tells what a collection does, step by step', async () => {
  // The sample is about 100 KB: at 4 kB/s the copy lasts long enough (12 s at the least, when each file comes
  // in one piece) for the browser to load the page while the run is still in its transfer.
  harness.transfer.faults.set({ bytesPerSecond: 4_000 });
  let workflowId: string;
  try {
    workflowId = await collect('coleta-ui', ['--no-wait']);
    const handle = harness.env.client.workflow.getHandle(workflowId);
    for (let phase = ''; phase !== 'transfer';) {
      phase = (await handle.query<{ phase: string }>('progress')).phase;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // While it copies: the summary, the details, and the current details saying what it is doing.
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
    await page.getByText('User Metadata', { exact: true }).first().click();
    await framesShow('Collect ecommerce-behavior-sample into gs://coleta-ui/raw/');
    await framesShow(/Dataset: ecommerce-behavior-sample/);
    await framesShow(/transfer \(ecommerce-behavior-sample\/\d{8}T\d{6}Z-[0-9a-f]{12}\): Copying/);
    await handle.result();
  } finally {
    harness.transfer.faults.clear();
  }

  // Once done: the timeline names each step by its activity and says what it did.
  await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
  await shows('Completed');
  await shows('preflight • Preflight: bucket gs://coleta-ui writable, service agent permitted');
  await shows('planIncremental • Changes: compare the source with the current copies of ecommerce-behavior-sample');
  await shows(/launchTransfer • Transfer launch: 2 files into gs:\/\/coleta-ui\/raw\/ecommerce-behavior-sample\//);
  await shows(/awaitTransfer • Polling: follow transferOperations\/transferJobs-coleta-ecommerce-behavior-sample-/);
  await shows('checkFile • Integrity: verify 2019-Oct.csv.gz');
  await shows('writeDocumentation • Documentation: write collection.json and collection.md beside the data');
});

test('runs are found by dataset, and a failed run says why', async () => {
  harness.transfer.faults.set({ missingPermissions: { 'coleta-ui-denied': ['storage.objects.create'] } });
  try {
    const workflowId = await collect('coleta-ui-denied');
    await assert.rejects(harness.env.client.workflow.getHandle(workflowId).result());

    const query = encodeURIComponent(`DatasetId="ecommerce-behavior-sample" AND CollectionOutcome="failed"`);
    await page.goto(`${ui}/namespaces/default/workflows?query=${query}`);
    await shows(workflowId);

    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
    await shows('Failed');
    await shows(/lacks storage\.objects\.create on gs:\/\/coleta-ui-denied/);
  } finally {
    harness.transfer.faults.clear();
  }
});

test('the Schedules page tells what a schedule collects, where and when', async () => {
  await harness.bucket('coleta-ui-scheduled');
  const env = { ...harness.workerEnv, COLETA_ORIGIN_URL: harness.origin.url, COLETA_WEB_UI_URL: ui };
  const args = ['schedule', 'create', '--id', 'ui-schedule', '--every', '6h', '--bucket', 'coleta-ui-scheduled'];
  const created = await coleta([...args, '--paused'], env);
  assert.equal(created.code, 0, created.stderr);
  try {
    await page.goto(`${ui}/namespaces/default/schedules`);
    await shows('ui-schedule');
    await page.goto(`${ui}/namespaces/default/schedules/ui-schedule`);
    await shows(/Collects ecommerce-behavior-sample into gs:\/\/coleta-ui-scheduled\/raw\/ every 6h/);
    await shows('collectDataset');
  } finally {
    await coleta(['schedule', 'delete', 'ui-schedule'], env);
  }
});
