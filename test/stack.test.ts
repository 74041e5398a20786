/**
 * The local stack as a user drives it: `coleta stack up|status|down` in child processes, on ports and a
 * data folder of the test's own, against the real Temporal dev server, storage emulator and origin.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Storage } from '@google-cloud/storage';
import { isAlive } from '../src/stack/processes';
import type { StackState } from '../src/stack/supervisor';
import { coleta } from './helpers/cli';
import { transferClient } from './helpers/transfer';
import { freePort, tempDir, toolPaths } from './helpers/fixtures';

let env: NodeJS.ProcessEnv;
let dataDir: string;
let ports: {
  temporal: number;
  ui: number;
  temporalMetrics: number;
  http: number;
  gcs: number;
  transferGrpc: number;
  transferRest: number;
  origin: number;
};

before(async () => {
  toolPaths();
  dataDir = tempDir('stack');
  ports = {
    temporal: await freePort(),
    ui: await freePort(),
    http: await freePort(),
    gcs: await freePort(),
    transferGrpc: await freePort(),
    transferRest: await freePort(),
    origin: await freePort(),
    temporalMetrics: await freePort(),
  };
  env = {
    COLETA_DATA_DIR: dataDir,
    COLETA_TEMPORAL_PORT: String(ports.temporal),
    COLETA_TEMPORAL_UI_PORT: String(ports.ui),
    COLETA_TEMPORAL_HTTP_PORT: String(ports.http),
    COLETA_GCS_PORT: String(ports.gcs),
    COLETA_TRANSFER_GRPC_PORT: String(ports.transferGrpc),
    COLETA_TRANSFER_REST_PORT: String(ports.transferRest),
    COLETA_ORIGIN_PORT: String(ports.origin),
    COLETA_TEMPORAL_METRICS_PORT: String(ports.temporalMetrics),
    COLETA_SAMPLE_SIZE: '128KiB',
    COLETA_BUCKET: 'stack-test-bucket',
  };
});

after(async () => {
  await coleta(['stack', 'down'], env);
});

function state(): StackState {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as StackState;
}

test('refuses a bad setting in one line, before anything starts', async () => {
  for (const [variable, value, pattern] of [
    ['COLETA_GCS_PORT', 'abc', /^coleta: COLETA_GCS_PORT="abc": /],
    ['COLETA_ORIGIN_PORT', '70000', /^coleta: COLETA_ORIGIN_PORT="70000": /],
    ['COLETA_ORIGIN_PORT', String(ports.gcs), /^coleta: COLETA_ORIGIN_PORT and COLETA_GCS_PORT are both \d+/],
    ['COLETA_BUCKET', 'Bad_Bucket', /^coleta: COLETA_BUCKET: bucket name "Bad_Bucket"/],
    ['COLETA_SAMPLE_SIZE', 'lots', /^coleta: COLETA_SAMPLE_SIZE="lots": /],
  ] as const) {
    const result = await coleta(['stack', 'up'], { ...env, [variable]: value });
    assert.equal(result.code, 2, `${variable}=${value}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.ok(!fs.existsSync(path.join(dataDir, 'stack.json')), 'nothing started');
  }
});

test('refuses a missing tool in one line', async () => {
  const result = await coleta(['stack', 'up'], { ...env, COLETA_TOOLS_DIR: tempDir('no-tools') });
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /^coleta: missing the Temporal CLI \(.*\) and fake-gcs-server \(.*\): run `npm run tools`/,
  );
  assert.ok(!fs.existsSync(path.join(dataDir, 'stack.json')));
});

test('refuses a port already taken, naming it, and starts nothing', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(ports.gcs, '127.0.0.1', resolve));
  try {
    const result = await coleta(['stack', 'up'], env);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      new RegExp(`^coleta: port ${ports.gcs} on 127.0.0.1 is already in use \\(COLETA_GCS_PORT\\)`),
    );
    assert.ok(!fs.existsSync(path.join(dataDir, 'stack.json')));
    for (const port of [ports.temporal, ports.ui, ports.transferRest, ports.origin]) {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `nothing listens on ${port}`);
    }
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('status before up says the stack is not running', async () => {
  const result = await coleta(['stack', 'status'], env);
  assert.equal(result.code, 3);
  assert.match(result.stdout, /not running/);
});

test('up, status, a second up, down, up again: runs of before are kept', async () => {
  const up = await coleta(['stack', 'up'], env);
  assert.equal(up.code, 0, up.stderr + up.stdout);
  assert.match(up.stdout, /the local stack is up/);
  assert.match(up.stdout, new RegExp(`Web UI:\\s+http://127\\.0\\.0\\.1:${ports.ui}`));
  assert.match(up.stdout, new RegExp(`gRPC 127\\.0\\.0\\.1:${ports.temporal}`));
  assert.match(up.stdout, new RegExp(`JSON API http://127\\.0\\.0\\.1:${ports.gcs}`));
  assert.match(up.stdout, new RegExp(`files http://127\\.0\\.0\\.1:${ports.origin}/datasets/marketplace/`));
  assert.match(up.stdout, new RegExp(`^transfer\\s+gRPC 127\\.0\\.0\\.1:${ports.transferGrpc}`, 'm'));

  // Every service answers, bound to loopback.
  assert.equal((await fetch(`http://127.0.0.1:${ports.ui}/`)).status, 200);
  const sample = await fetch(`http://127.0.0.1:${ports.origin}/datasets/marketplace/2019-Oct.csv.gz`, {
    method: 'HEAD',
  });
  assert.equal(sample.status, 200);
  const storage = new Storage({ apiEndpoint: `http://127.0.0.1:${ports.gcs}`, projectId: 'test' });
  const [exists] = await storage.bucket('stack-test-bucket').exists();
  assert.ok(exists, 'the sink bucket was created');
  for (const service of state().services) assert.ok(isAlive(service.pid), service.name);
  const transfer = transferClient('grpc', ports.transferGrpc);
  const [agent] = await transfer.getGoogleServiceAccount({ projectId: 'coleta-local' }, { timeout: 5000 });
  assert.match(agent.accountEmail ?? '', /@storage-transfer-service\.iam\.gserviceaccount\.com$/);
  await transfer.close();

  // The search attributes are registered, and a run is recorded.
  const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  const client = new Client({ connection });
  const attributes = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
  for (const name of ['DatasetId', 'CollectionPhase', 'CollectionOutcome']) {
    assert.ok(name in (attributes.customAttributes ?? {}), `${name} is registered`);
  }
  const handle = await client.workflow.start('collectDataset', {
    taskQueue: 'nobody-serves-this',
    workflowId: 'kept-run',
    args: [],
  });
  await handle.terminate('the test only needs a run in the history');
  await connection.close();

  const status = await coleta(['stack', 'status'], env);
  assert.equal(status.code, 0, status.stdout);
  for (const name of ['temporal', 'storage', 'origin']) {
    assert.match(status.stdout, new RegExp(`^${name}\\s+running\\s+\\d+\\s+\\d{4}-`, 'm'));
  }

  const before = state();
  const again = await coleta(['stack', 'up'], env);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already running .*nothing changed/);
  assert.deepEqual(state(), before, 'a second up changes nothing');

  const down = await coleta(['stack', 'down'], env);
  assert.equal(down.code, 0);
  assert.match(down.stdout, /the local stack is down/);
  for (const service of before.services) assert.ok(!isAlive(service.pid), `${service.name} stopped`);
  for (const port of [ports.temporal, ports.ui, ports.gcs, ports.transferRest, ports.origin]) {
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `nothing listens on ${port} after down`);
  }
  assert.equal((await coleta(['stack', 'status'], env)).code, 3);

  const upAgain = await coleta(['stack', 'up'], env);
  assert.equal(upAgain.code, 0, upAgain.stderr);
  const reconnected = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  try {
    const kept = await new Client({ connection: reconnected }).workflow.getHandle('kept-run').describe();
    assert.equal(kept.status.name, 'TERMINATED', 'the run of before is still there');
  } finally {
    await reconnected.close();
  }
});

test('a stack partly stopped is refused until it is brought down', async () => {
  const current = state();
  const origin = current.services.find((service) => service.name === 'origin');
  assert.ok(origin);
  process.kill(-origin.pid, 'SIGKILL');
  while (isAlive(origin.pid)) await new Promise((resolve) => setTimeout(resolve, 50));
  const status = await coleta(['stack', 'status'], env);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /^origin\s+stopped/m);
  const up = await coleta(['stack', 'up'], env);
  assert.equal(up.code, 2);
  assert.match(up.stderr, /partly running \(origin stopped\): run `npm run stack:down` first/);
  const down = await coleta(['stack', 'down'], env);
  assert.equal(down.code, 0);
  assert.match(down.stdout, /origin: was not running/);
});
