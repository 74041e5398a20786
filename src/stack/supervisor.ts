/**
 * The local stack: the Temporal dev server with its Web UI, the Cloud Storage emulator, the Storage Transfer
 * Service emulator and the HTTP origin of the dataset sample, run as local processes bound to 127.0.0.1,
 * with their logs and state in one data folder. `up` checks everything it can before starting anything,
 * starts what is missing and waits until each service answers; `status` says what runs, where and since
 * when; `down` stops it all.
 *
 * The pids, addresses and start times live in `<data>/stack.json`, so any later command finds the stack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Storage } from '@google-cloud/storage';
import { type StackConfig, ConfigError, PORT_VARIABLES, PROJECT_ROOT } from '../config';
import { generateSample, parseByteSize } from '../sample/generate';
import { httpAnswers, isAlive, isPortFree, startDetached, stopGroup, tail, waitUntil } from './processes';
import { StackRefusal } from './refusal';
import { registerSearchAttributes, temporalServing } from './temporal-setup';

/** The services of the stack, in start order. */
export const SERVICE_NAMES = ['temporal', 'storage', 'transfer', 'origin'] as const;

/** One service's name. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** A running service, as the state file records it. */
export interface ServiceState {
  name: ServiceName;
  pid: number;
  startedAt: string;
  /** What a user reaches it at, by label (`gRPC`, `Web UI`, ...). */
  addresses: Record<string, string>;
  log: string;
}

/** `<data>/stack.json`. */
export interface StackState {
  startedAt: string;
  services: ServiceState[];
}

export { StackRefusal };

/** Where the stack writes its state and logs. */
export function stackPaths(config: StackConfig) {
  const { dataDir } = config;
  return {
    state: path.join(dataDir, 'stack.json'),
    logs: path.join(dataDir, 'logs'),
    temporalDb: path.join(dataDir, 'temporal', 'temporal.db'),
    gcsRoot: path.join(dataDir, 'gcs'),
    transferState: path.join(dataDir, 'transfer', 'state.json'),
    sampleRoot: path.join(dataDir, 'origin'),
  };
}

/** Reads the state file, or undefined when there is none. */
export function readState(config: StackConfig): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stackPaths(config).state, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/** What `up` did. */
export type UpResult = { kind: 'started'; state: StackState } | { kind: 'already-running'; state: StackState };

/** Brings the stack up; see the module comment. `say` receives one line per step. */
export async function up(config: StackConfig, say: (line: string) => void = () => {}): Promise<UpResult> {
  const paths = stackPaths(config);
  const previous = readState(config);
  if (previous) {
    const alive = previous.services.filter((service) => isAlive(service.pid));
    if (alive.length === previous.services.length && alive.length === SERVICE_NAMES.length) {
      return { kind: 'already-running', state: previous };
    }
    if (alive.length > 0) {
      const stopped = previous.services.filter((service) => !alive.includes(service)).map((service) => service.name);
      throw new StackRefusal(
        `the local stack is partly running (${stopped.join(', ')} stopped): run \`npm run stack:down\` first`,
      );
    }
    fs.rmSync(paths.state, { force: true });
  }

  const bytesPerMonth = preflightSettings(config);
  await preflightPorts(config);
  for (const dir of [
    paths.logs,
    path.dirname(paths.temporalDb),
    paths.gcsRoot,
    paths.sampleRoot,
    path.dirname(paths.transferState),
  ]) {
    fs.mkdirSync(dir, { recursive: true });
  }

  const started: ServiceState[] = [];
  const state: StackState = { startedAt: new Date().toISOString(), services: started };
  try {
    say(`generating the dataset sample (${config.sample.size} a month, seed ${config.sample.seed}) if needed`);
    await generateSample({ root: paths.sampleRoot, seed: config.sample.seed, bytesPerMonth });

    for (const name of SERVICE_NAMES) {
      const service = launch(name, config);
      started.push(service);
      writeState(paths.state, state);
      say(`starting ${name} (pid ${service.pid})`);
      const ready = await waitUntil(() => answers(name, config), 60_000);
      if (!ready) {
        const stillAlive = isAlive(service.pid);
        throw new Error(
          `${name} ${stillAlive ? 'did not answer within 60 s' : 'exited'}; ` +
            `the end of ${service.log}:\n${tail(service.log)}`,
        );
      }
      await afterReady(name, config, say);
    }
    return { kind: 'started', state };
  } catch (error) {
    for (const service of started.reverse()) await stopGroup(service.pid, 5000);
    fs.rmSync(paths.state, { force: true });
    throw error;
  }
}

/** What `down` stopped. */
export interface DownResult {
  stopped: { name: ServiceName; how: 'stopped' | 'killed' | 'gone' }[];
}

/** Stops every service of the stack and forgets it. Stopping a stack that is not running does nothing. */
export async function down(config: StackConfig): Promise<DownResult> {
  const state = readState(config);
  const stopped: DownResult['stopped'] = [];
  for (const service of [...(state?.services ?? [])].reverse()) {
    stopped.push({ name: service.name, how: await stopGroup(service.pid) });
  }
  fs.rmSync(stackPaths(config).state, { force: true });
  return { stopped };
}

/** One service's status. */
export interface ServiceStatus extends ServiceState {
  running: boolean;
  answering: boolean;
}

/** The status of every recorded service, or undefined when the stack is not running. */
export async function status(config: StackConfig): Promise<ServiceStatus[] | undefined> {
  const state = readState(config);
  if (!state) return undefined;
  return Promise.all(
    state.services.map(async (service) => {
      const running = isAlive(service.pid);
      return { ...service, running, answering: running && (await answers(service.name, config).catch(() => false)) };
    }),
  );
}

function preflightSettings(config: StackConfig): number {
  const missing = [
    { bin: config.temporalBin, what: 'the Temporal CLI' },
    { bin: config.fakeGcsBin, what: 'fake-gcs-server' },
  ].filter(({ bin }) => !isExecutable(bin));
  if (missing.length > 0) {
    const list = missing.map(({ bin, what }) => `${what} (${bin})`).join(' and ');
    throw new StackRefusal(`missing ${list}: run \`npm run tools\` to build them (COLETA_TOOLS_DIR sets where)`);
  }
  try {
    return parseByteSize(config.sample.size);
  } catch (error) {
    throw new ConfigError(`COLETA_SAMPLE_SIZE=${JSON.stringify(config.sample.size)}: ${(error as Error).message}`);
  }
}

async function preflightPorts(config: StackConfig): Promise<void> {
  for (const [key, port] of Object.entries(config.ports) as [keyof StackConfig['ports'], number][]) {
    if (!(await isPortFree(port))) {
      throw new StackRefusal(
        `port ${port} on 127.0.0.1 is already in use (${PORT_VARIABLES[key]}): ` +
          'stop what uses it or choose another port',
      );
    }
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function launch(name: ServiceName, config: StackConfig): ServiceState {
  const paths = stackPaths(config);
  const log = path.join(paths.logs, `${name}.log`);
  const { ports } = config;
  const env = { ...process.env };
  let command: string;
  let args: string[];
  let addresses: Record<string, string>;
  switch (name) {
    case 'temporal':
      command = config.temporalBin;
      args = [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--ui-ip',
        '127.0.0.1',
        '--port',
        String(ports.temporal),
        '--ui-port',
        String(ports.temporalUi),
        '--http-port',
        String(ports.temporalHttp),
        '--metrics-port',
        String(ports.temporalMetrics),
        '--db-filename',
        paths.temporalDb,
        '--log-level',
        'warn',
      ];
      addresses = {
        gRPC: `127.0.0.1:${ports.temporal}`,
        'Web UI': `http://127.0.0.1:${ports.temporalUi}`,
        HTTP: `http://127.0.0.1:${ports.temporalHttp}`,
        metrics: `http://127.0.0.1:${ports.temporalMetrics}/metrics`,
      };
      break;
    case 'storage':
      command = config.fakeGcsBin;
      args = [
        '-scheme',
        'http',
        '-host',
        '127.0.0.1',
        '-port',
        String(ports.gcs),
        '-backend',
        'filesystem',
        '-filesystem-root',
        paths.gcsRoot,
        '-public-host',
        `127.0.0.1:${ports.gcs}`,
        '-external-url',
        `http://127.0.0.1:${ports.gcs}`,
        '-log-level',
        'warn',
      ];
      addresses = { 'JSON API': `http://127.0.0.1:${ports.gcs}`, bucket: `gs://${config.bucket}` };
      break;
    case 'transfer':
      command = process.execPath;
      args = [
        path.join(PROJECT_ROOT, 'bin', 'coleta.js'),
        'transfer-emulator',
        '--grpc-port',
        String(ports.transferGrpc),
        '--rest-port',
        String(ports.transferRest),
        '--state',
        paths.transferState,
        '--storage-url',
        `http://127.0.0.1:${ports.gcs}`,
      ];
      addresses = { gRPC: `127.0.0.1:${ports.transferGrpc}`, REST: `http://127.0.0.1:${ports.transferRest}` };
      break;
    case 'origin':
      command = process.execPath;
      args = [
        path.join(PROJECT_ROOT, 'bin', 'coleta.js'),
        'origin',
        '--root',
        paths.sampleRoot,
        '--port',
        String(ports.origin),
      ];
      env.COLETA_ORIGIN_KAGGLE_USERNAME = config.originKaggle.username;
      env.COLETA_ORIGIN_KAGGLE_KEY = config.originKaggle.key;
      addresses = {
        files: `http://127.0.0.1:${ports.origin}/datasets/marketplace/`,
        'Kaggle API': `http://127.0.0.1:${ports.origin}/api/v1`,
      };
      break;
  }
  fs.appendFileSync(log, `\n--- ${new Date().toISOString()} starting ${name}\n`);
  const pid = startDetached(command, args, log, env);
  return { name, pid, startedAt: new Date().toISOString(), addresses, log };
}

function answers(name: ServiceName, config: StackConfig): Promise<boolean> {
  const { ports } = config;
  switch (name) {
    case 'temporal':
      return temporalServing(`127.0.0.1:${ports.temporal}`).then(
        async (serving) => serving && (await httpAnswers(`http://127.0.0.1:${ports.temporalUi}/`)),
      );
    case 'storage':
      return httpAnswers(`http://127.0.0.1:${ports.gcs}/storage/v1/b`);
    case 'transfer':
      return httpAnswers(`http://127.0.0.1:${ports.transferRest}/v1/googleServiceAccounts/coleta-local`);
    case 'origin':
      return httpAnswers(`http://127.0.0.1:${ports.origin}/healthz`);
  }
}

async function afterReady(name: ServiceName, config: StackConfig, say: (line: string) => void): Promise<void> {
  if (name === 'temporal') {
    const added = await registerSearchAttributes(`127.0.0.1:${config.ports.temporal}`);
    if (added.length > 0) say(`registered search attributes ${added.join(', ')}`);
  }
  if (name === 'storage') {
    const storage = new Storage({ apiEndpoint: `http://127.0.0.1:${config.ports.gcs}`, projectId: 'coleta-local' });
    const bucket = storage.bucket(config.bucket);
    const [exists] = await bucket.exists();
    if (!exists) {
      await bucket.create();
      say(`created bucket gs://${config.bucket}`);
    }
  }
}

function writeState(file: string, state: StackState): void {
  const temporary = `${file}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(temporary, file);
}
