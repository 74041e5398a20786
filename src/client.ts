/**
 * `coleta`, the command line of the project: data engineers start and watch collections with it, and it
 * runs the local stack, the worker, the origin and the sample generator.
 *
 * Exit codes: 0 success; 1 a failed run or an error met on the way; 2 bad input or usage, refused before
 * anything started; 3 (`stack status`) the stack is not running.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadRuntimeConfig, loadStackConfig } from './config';
import { InputError } from './collection';
import { collect, type CollectOptions } from './cli/collect';
import { presets } from './dataset/presets';
import { stackDown, stackStatus, stackUp } from './cli/stack';
import { runOriginCommand, runSampleCommand, runStart } from './cli/run';
import { StackRefusal } from './stack/supervisor';
import { table } from './cli/format';
import { runWorker } from './worker';

/** Builds the command tree; each action returns its exit code. */
export function buildProgram(): Command {
  const program = new Command('coleta')
    .description('Collects the eCommerce behavior dataset into Cloud Storage with a durable Temporal workflow.')
    .showSuggestionAfterError()
    .exitOverride();

  program
    .command('collect')
    .description('start a collection (or attach to the one already collecting the same), then wait for it')
    .option('--preset <name>', 'a named source (see `coleta presets`); local-sample when no source is given')
    .option('--url <url...>', 'public http(s) URLs of the files to collect')
    .option('--kaggle <owner/slug>', 'a Kaggle dataset')
    .option('--version <n>', 'the Kaggle dataset version (default: the current one)')
    .option('--file <name...>', 'only these files of the Kaggle dataset')
    .option('--dataset <id>', "the dataset's id in names and the UI (default: the preset's)")
    .option('--bucket <name>', 'the sink bucket (default: COLETA_BUCKET or coleta-raw)')
    .option('--prefix <path>', 'where raw data lands in the bucket', 'raw/')
    .option('--no-wait', 'print the run and return at once')
    .option('--json', 'print JSON')
    .action(exits((options: CollectOptions) => collect(options, loadRuntimeConfig())));

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
        await runWorker();
        return 0;
      }),
    );

  const stack = program.command('stack').description('the local stack: Temporal dev server and Web UI, storage emulator, origin');
  stack.command('up').description('start the local stack and wait until every service answers').action(exits(() => stackUp(loadStackConfig())));
  stack.command('down').description('stop the local stack').action(exits(() => stackDown(loadStackConfig())));
  stack.command('status').description('what runs, where, and since when').action(exits(() => stackStatus(loadStackConfig())));

  program
    .command('start')
    .description('the main job on the local stack: bring it up, start a worker, collect the sample')
    .action(exits(() => runStart()));

  program
    .command('sample')
    .description('generate the dataset sample (deterministic, seeded)')
    .option('--out <dir>', 'where to write it', 'sample')
    .option('--size <bytes>', 'bytes of each month\'s CSV, such as 5MB or 1GiB', '2MiB')
    .option('--seed <n>', 'the seed', '46')
    .option('--months <list>', 'comma-separated months', '2019-Oct,2019-Nov')
    .action(exits((options: { out: string; size: string; seed: string; months: string }) => runSampleCommand(options)));

  program
    .command('origin')
    .description('serve a sample folder over HTTP as a download server, with the Kaggle API endpoints')
    .requiredOption('--root <dir>', 'the sample folder (as `coleta sample` writes it)')
    .addOption(new Option('--port <n>', 'port on 127.0.0.1').default('8090'))
    .action(exits((options: { root: string; port: string }) => runOriginCommand(options)));

  return program;
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
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : 2;
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
