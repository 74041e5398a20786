/**
 * Benchmark of the Storage Transfer Service emulator: one transfer of a large sample file from the origin
 * into the storage emulator over loopback, beside plain copies of the same bytes in the same run, a download
 * to /dev/null with curl and an upload of the file with @google-cloud/storage, and the emulator's peak memory.
 *
 * Usage: `npm run bench:transfer [size]` (default 1GiB). Needs the Go-built tools (`npm run tools`) and curl.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Storage } from '@google-cloud/storage';
import { loadStackConfig } from '../src/config';
import { startOrigin } from '../src/origin/server';
import { generateSample, parseByteSize } from '../src/sample/generate';
import { transferClient, waitDone } from '../test/helpers/transfer';

const BUCKET = 'bench';
const PROJECT = 'bench';

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

/** Peak resident memory of a process, from /proc (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

function rate(bytes: number, ms: number): string {
  return `${((bytes / 1e6 / ms) * 1000).toFixed(0)} MB/s`;
}

async function main(): Promise<void> {
  const size = parseByteSize(process.argv[2] ?? '1GiB');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'coleta-bench-transfer-'));
  const children: ReturnType<typeof spawn>[] = [];
  try {
    console.log(`generating a ${(size / 2 ** 30).toFixed(2)} GiB sample month...`);
    await generateSample({ root: path.join(work, 'sample'), bytesPerMonth: size, months: ['2019-Oct'] });
    const file = path.join(work, 'sample', 'datasets', 'marketplace', '2019-Oct.csv');
    const bytes = fs.statSync(file).size;

    const gcsPort = await freePort();
    const gcsUrl = `http://127.0.0.1:${gcsPort}`;
    const gcsRoot = path.join(work, 'gcs');
    fs.mkdirSync(gcsRoot);
    const gcsArgs = ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(gcsPort), '-backend', 'filesystem'];
    gcsArgs.push('-filesystem-root', gcsRoot, '-public-host', `127.0.0.1:${gcsPort}`, '-log-level', 'error');
    children.push(spawn(loadStackConfig().fakeGcsBin, gcsArgs, { stdio: 'ignore' }));
    await waitFor(`${gcsUrl}/storage/v1/b`);
    const storage = new Storage({ apiEndpoint: gcsUrl, projectId: PROJECT });
    await storage.createBucket(BUCKET);

    const origin = await startOrigin({ root: path.join(work, 'sample'), port: 0 });
    const url = `${origin.url}/datasets/marketplace/2019-Oct.csv`;

    console.log('plain copies: a download to /dev/null with curl, an upload with @google-cloud/storage...');
    // Plain copy 1: download to /dev/null with curl.
    let started = performance.now();
    // asynchronously: the origin answering curl runs in this process
    await promisify(execFile)('curl', ['-sS', '-o', '/dev/null', url]);
    const curlMs = performance.now() - started;

    // Plain copy 2: upload of the file with the official client.
    started = performance.now();
    await storage.bucket(BUCKET).upload(file, { destination: 'plain/upload.csv', resumable: false, validation: false });
    const uploadMs = performance.now() - started;

    console.log('the transfer through the emulator...');
    // The transfer, through the emulator in a process of its own (so its memory is its own).
    const grpcPort = await freePort();
    const restPort = await freePort();
    const emulator = spawn(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'coleta.js'), 'transfer-emulator', '--grpc-port', String(grpcPort)].concat([
        '--rest-port',
        String(restPort),
        '--storage-url',
        gcsUrl,
      ]),
      { stdio: 'ignore' },
    );
    children.push(emulator);
    await waitFor(`http://127.0.0.1:${restPort}/v1/googleServiceAccounts/${PROJECT}`);
    const client = transferClient('grpc', grpcPort);
    await storage.bucket(BUCKET).file('list.tsv').save(`TsvHttpData-1.0\n${url}\t${bytes}\n`);
    await client.createTransferJob({
      transferJob: {
        name: 'transferJobs/bench',
        projectId: PROJECT,
        status: 'ENABLED',
        transferSpec: {
          httpDataSource: { listUrl: `${gcsUrl}/${BUCKET}/list.tsv` },
          gcsDataSink: { bucketName: BUCKET, path: 'transfer/' },
        },
      },
    });
    started = performance.now();
    const [operation] = await client.runTransferJob({ jobName: 'transferJobs/bench', projectId: PROJECT });
    const { metadata } = await waitDone(client, operation.name as string, 3_600_000);
    const transferMs = performance.now() - started;
    const rss = peakRssMiB(emulator.pid as number);
    await client.close();
    await origin.close();

    const slower = Math.max(curlMs, uploadMs);
    console.log(
      `\nmachine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ` +
        `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    );
    console.log(`file: ${bytes} bytes; transfer status ${String(metadata.status)}`);
    console.log(`curl download to /dev/null     ${(curlMs / 1000).toFixed(2)} s  ${rate(bytes, curlMs)}`);
    console.log(`@google-cloud/storage upload   ${(uploadMs / 1000).toFixed(2)} s  ${rate(bytes, uploadMs)}`);
    console.log(`transfer through the emulator  ${(transferMs / 1000).toFixed(2)} s  ${rate(bytes, transferMs)}`);
    console.log(`transfer / slower plain copy   ${((slower / transferMs) * 100).toFixed(0)} %`);
    console.log(`emulator peak RSS              ${rss.toFixed(0)} MiB`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

void main();
