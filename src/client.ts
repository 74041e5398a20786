/**
 * `coleta`, the command line of the project: data engineers start and watch collections with it, and it
 * runs the local stack, the worker, the origin and the sample generator.
 *
 * Exit codes: 0 success; 1 a failed run or an error met on the way; 2 bad input or usage, refused before
 * anything started; 3 (`stack status`) the stack is not running.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError, loadRuntimeConfig, loadStackConfig } from './config';
import { InputError } from './collection';
import { collectInputFromOptions, type CollectOptions } from './cli/collect-input';
import { presets } from './dataset/presets';
import { StackRefusal } from './stack/refusal';
import { table } from './cli/format';
import type * as CollectModule from './cli/collect';
import type * as RunModule from './cli/run';
import type * as RunsModule from './cli/runs';
import type { ListOptions } from './cli/runs';
import type * as SchedulesModule from './cli/schedules';
import { scheduleRequestFromOptions, type ScheduleCreateOptions } from './cli/schedule-input';
import type { OriginCommandOptions, TransferEmulatorOptions, WatchCommandOptions } from './cli/run';
import type * as StackModule from './cli/stack';
import type * as VerifyModule from './verify/command';
import type { VerifyCommandOptions } from './verify/command';
import type * as WorkerModule from './worker';

// The commands' modules load the Temporal SDK and the Google clients, which takes about a second: each is
// loaded when its command runs, so that help and refusals of bad input answer at once.
/* eslint-disable @typescript-eslint/no-require-imports */
const collectCommand = () => require('./cli/collect') as typeof CollectModule;
const stackCommands = () => require('./cli/stack') as typeof StackModule;
const runCommands = () => require('./cli/run') as typeof RunModule;
const runsCommands = () => require('./cli/runs') as typeof RunsModule;
const schedulesCommands = () => require('./cli/schedules') as typeof SchedulesModule;
const workerModule = () => require('./worker') as typeof WorkerModule;
const verifyCommand = () => require('./verify/command') as typeof VerifyModule;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Builds the command tree; each action returns its exit code. */
export function buildProgram(): Command {
  const program = new Command('coleta')
    .description('Collects the eCommerce behavior dataset into Cloud Storage with a durable Temporal workflow.')
    .showSuggestionAfterError()
    .exitOverride();

  addSourceOptions(
    program
      .command('collect')
      .description('start a collection (or attach to the one already collecting the same), then wait for it'),
  )
    .option('--no-wait', 'print the run and return at once')
    .option('--json', 'print JSON')
    .action(
      exits((options: CollectOptions) => {
        const config = loadRuntimeConfig();
        const input = collectInputFromOptions(options, config);
        return collectCommand().collect(input, options, config);
      }),
    );

  program
    .command('status')
    .description('with a workflow id, where that collection is; without, the health of every dataset')
    .argument('[workflow-id]', 'the collection, as `collect` and `list` print it')
    .option('--json', 'print JSON')
    .action(
      exits((workflowId: string | undefined, options: { json?: boolean }) =>
        workflowId === undefined
          ? runsCommands().health(options, loadRuntimeConfig())
          : runsCommands().status(workflowId, options, loadRuntimeConfig()),
      ),
    );

  program
    .command('cancel')
    .description('cancel a collection: its transfer is cancelled in the service and the run documented')
    .argument('<workflow-id>', 'the collection to cancel')
    .option('--no-wait', 'return once the cancellation is requested')
    .option('--json', 'print JSON')
    .action(
      exits((workflowId: string, options: { wait: boolean; json?: boolean }) =>
        runsCommands().cancel(workflowId, options, loadRuntimeConfig()),
      ),
    );

  program
    .command('list')
    .description('the collections, newest first')
    .option('--dataset <id>', 'only this dataset')
    .option('--phase <phase>', 'only runs in this phase (queued, source-access, ..., done)')
    .option('--outcome <outcome>', 'only runs with this outcome: running, succeeded, failed or cancelled')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print JSON')
    .action(exits((options: ListOptions) => runsCommands().list(options, loadRuntimeConfig())));

  program
    .command('report')
    .description("print a collection's record: the Markdown page, or the JSON with --json")
    .argument('<workflow-id>', 'the collection')
    .option('--json', 'print the JSON record')
    .action(
      exits((workflowId: string, options: { json?: boolean }) =>
        runsCommands().report(workflowId, options, loadRuntimeConfig()),
      ),
    );

  const schedule = program
    .command('schedule')
    .description('Temporal Schedules that collect a dataset on an interval or a cron spec');
  addSourceOptions(
    schedule
      .command('create')
      .description('create a schedule that starts the collection; nothing is created if any flag is bad')
      .option('--id <id>', 'the schedule id (default: collect-<dataset>)')
      .option('--every <duration>', 'run on this interval, such as 6h or 1d')
      .option('--cron <spec>', 'run at these times: five cron fields ("0 3 * * *") or @daily, @hourly, ...')
      .option('--timezone <zone>', 'the IANA time zone of --cron (default UTC)')
      .option('--jitter <duration>', 'start each run up to this much later, at random')
      .option('--catchup-window <duration>', 'runs missed while the server was down are made up within this', '1h')
      .option('--freshness <duration>', 'the dataset is stale when its last success is older (default: twice --every)')
      .option('--paused', 'create it paused'),
  ).action(
    exits((options: ScheduleCreateOptions) => {
      const config = loadRuntimeConfig();
      const request = scheduleRequestFromOptions({ ...options, wait: false }, config);
      return schedulesCommands().createSchedule(request, config);
    }),
  );
  schedule
    .command('list')
    .description('every schedule, with what it collects and its next run')
    .option('--json', 'print JSON')
    .action(exits((options: { json?: boolean }) => schedulesCommands().listSchedules(options, loadRuntimeConfig())));
  schedule
    .command('describe')
    .description("a schedule's spec, state, policies, next runs and recent runs")
    .argument('<id>', 'the schedule id')
    .option('--json', 'print JSON')
    .action(
      exits((id: string, options: { json?: boolean }) =>
        schedulesCommands().showSchedule(id, options, loadRuntimeConfig()),
      ),
    );
  for (const [change, description] of [
    ['pause', 'pause a schedule: it starts nothing until unpaused'],
    ['unpause', 'unpause a schedule'],
    ['trigger', 'start a run of the schedule now (skipped if one is running)'],
    ['delete', 'delete a schedule (its runs and their data stay)'],
  ] as const) {
    const command = schedule.command(change).description(description).argument('<id>', 'the schedule id');
    if (change === 'pause' || change === 'unpause') command.option('--note <text>', 'why, shown with the schedule');
    command.action(
      exits((id: string, options: { note?: string }) =>
        schedulesCommands().changeSchedule(change, id, options, loadRuntimeConfig()),
      ),
    );
  }

  program
    .command('watch')
    .description('the health watch: alerts when a scheduled dataset goes stale (started unless it runs already)')
    .option('--every <duration>', 'how often it checks, such as 30s (default 1m)')
    .option('--stop', 'stop the health watch')
    .action(exits((options: WatchCommandOptions) => runCommands().runWatchCommand(options, loadRuntimeConfig())));

  program
    .command('presets')
    .description('list the named sources')
    .action(
      exits(async () => {
        const rows = presets(loadRuntimeConfig()).map((p) => [p.name, p.datasetId, p.description]);
        console.log(table([['preset', 'dataset id', 'source'], ...rows]));
        return 0;
      }),
    );

  program
    .command('worker')
    .description('run a worker until SIGINT or SIGTERM')
    .action(
      exits(async () => {
        await workerModule().runWorker();
        return 0;
      }),
    );

  const stack = program
    .command('stack')
    .description('the local stack: Temporal dev server and Web UI, storage emulator, origin');
  stack
    .command('up')
    .description('start the local stack and wait until every service answers')
    .action(exits(() => stackCommands().stackUp(loadStackConfig())));
  stack
    .command('down')
    .description('stop the local stack')
    .action(exits(() => stackCommands().stackDown(loadStackConfig())));
  stack
    .command('status')
    .description('what runs, where, and since when')
    .action(exits(() => stackCommands().stackStatus(loadStackConfig())));

  program
    .command('start')
    .description('the main job on the local stack: bring it up, start a worker, collect the sample')
    .action(exits(() => runCommands().runStart()));

  program
    .command('sample')
    .description('generate the dataset sample (deterministic, seeded)')
    .option('--out <dir>', 'where to write it', 'sample')
    .option('--size <bytes>', "bytes of each month's CSV, such as 5MB or 1GiB", '2MiB')
    .option('--seed <n>', 'the seed', '46')
    .option('--months <list>', 'comma-separated months', '2019-Oct,2019-Nov')
    .action(
      exits((options: { out: string; size: string; seed: string; months: string }) =>
        runCommands().runSampleCommand(options),
      ),
    );

  program
    .command('origin')
    .description('serve a sample folder over HTTP as a download server, with the Kaggle API endpoints')
    .requiredOption('--root <dir>', 'the sample folder (as `coleta sample` writes it)')
    .option('--port <n>', 'the port', '8090')
    .option('--host <address>', 'the address to bind (loopback unless inside a container)', '127.0.0.1')
    .option('--public-url <url>', 'the base URL clients reach it at, for redirects (default: its own address)')
    .action(exits((options: OriginCommandOptions) => runCommands().runOriginCommand(options)));

  program
    .command('transfer-emulator')
    .description('run the Storage Transfer Service emulator (gRPC and REST) until SIGINT or SIGTERM')
    .option('--grpc-port <n>', 'the gRPC port', '8091')
    .option('--rest-port <n>', 'the REST port', '8092')
    .option('--host <address>', 'the address to bind (loopback unless inside a container)', '127.0.0.1')
    .option('--state <file>', 'where jobs and operations are kept across restarts (default: in memory)')
    .option(
      '--storage-url <url>',
      'the Cloud Storage API transfers write to (default: STORAGE_EMULATOR_HOST or http://127.0.0.1:4443)',
    )
    .action(exits((options: TransferEmulatorOptions) => runCommands().runTransferEmulatorCommand(options)));

  program
    .command('verify')
    .description('check a CSV (local, .gz, or gs://bucket/object) against the schema, profile it, checksum it')
    .argument('<path>', 'a local file (.csv or .csv.gz) or gs://bucket/object')
    .option('--json', 'print the report as JSON')
    .option(
      '--threads <n>',
      'threads that validate (default: the available CPUs, one fewer for a .gz, a .zip or --md5)',
    )
    .option('--md5', 'also compute the MD5 (one thread reads in order: slower)')
    .option('--fail-fast', 'stop at the first violation')
    .option('--expect-md5 <base64>', 'the MD5 the bytes must have (implies --md5)')
    .option('--expect-crc32c <base64>', 'the CRC32C the bytes must have')
    .action(
      exits((target: string, options: VerifyCommandOptions) => verifyCommand().runVerifyCommand(target, options)),
    );

  return program;
}

/** The flags that say what a collection collects, where to, and how it follows the transfer. */
function addSourceOptions(command: Command): Command {
  return command
    .option('--preset <name>', 'a named source (see `coleta presets`); local-sample when no source is given')
    .option('--url <url...>', 'public http(s) URLs of the files to collect')
    .option('--kaggle <owner/slug>', 'a Kaggle dataset')
    .option('--version <n>', 'the Kaggle dataset version (default: the current one)')
    .option('--file <name...>', 'only these files of the Kaggle dataset')
    .option('--dataset <id>', "the dataset's id in names and the UI (default: the preset's)")
    .option('--bucket <name>', 'the sink bucket (default: COLETA_BUCKET or coleta-raw)')
    .option('--prefix <path>', 'where raw data lands in the bucket', 'raw/')
    .option('--full', 'copy every file, even those unchanged since the last collection')
    .option('--poll-interval <duration>', 'how often the transfer operation is polled, such as 10s (default 10s)')
    .option(
      '--deadline <duration>',
      'how long the transfer may take before the run gives up, such as 6h (default 24h)',
    );
}

/** Runs the command line and exits with the action's code. */
export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = exitCodeOf(error);
  }
}

/** Makes an action that sets the process's exit code to what `fn` returns. */
function exits<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    process.exitCode = await fn(...args);
  };
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0
      ? 0
      : 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InputError || error instanceof ConfigError || error instanceof StackRefusal) {
    console.error(`coleta: ${message}`);
    return 2;
  }
  console.error(`coleta: ${message}`);
  return 1;
}

if (require.main === module) void main();
