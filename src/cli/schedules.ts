/**
 * `coleta schedule create|list|describe|pause|unpause|trigger|delete`: Temporal Schedules that start the
 * collection workflow on an interval or a cron spec, so that collection keeps going by itself. Runs that
 * would overlap are skipped, missed runs are caught up within a window, and starts can be spread by a jitter.
 * Each schedule carries in its memo what it collects, where, and how fresh the dataset is expected to be; its
 * note and its runs' summary say the same in words on the Web UI's Schedules page. Creating a schedule also
 * starts the health watch, which alerts when a scheduled dataset goes stale, unless it runs already.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleSpec,
  type WorkflowHandle,
} from '@temporalio/client';
import type { RuntimeConfig } from '../config';
import { collectionWorkflowId } from '../collection';
import { connectClient, runMetadata } from './collect';
import { HEALTH_WATCH_ID, type watchHealth } from '../workflows';
import { formatDuration, table, workflowUrl } from './format';
import { RunError } from './run-error';
import type { ScheduleRequest } from './schedule-input';

type Out = (line: string) => void;

/** What a schedule keeps in its memo. */
export interface ScheduleMemo {
  dataset: string;
  sink: string;
  /** When it runs, in words: `every 1h`, `at "0 3 * * *" (America/Sao_Paulo)`. */
  when: string;
  /** How old the dataset's last success may be, in milliseconds, before it is stale. */
  freshnessMs?: number;
}

async function withClient<T>(config: RuntimeConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(config);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

/** The spec of a request, as Temporal takes it. */
function specOf(request: ScheduleRequest): ScheduleSpec {
  const jitter = request.jitterMs > 0 ? { jitter: request.jitterMs } : {};
  if ('everyMs' in request.when) return { intervals: [{ every: request.when.everyMs }], ...jitter };
  return { cronExpressions: [request.when.cron], timezone: request.timezone, ...jitter };
}

/** When a schedule runs, in words. */
function describeWhen(request: ScheduleRequest): string {
  return 'everyMs' in request.when
    ? `every ${formatDuration(request.when.everyMs)}`
    : `at "${request.when.cron}" (${request.timezone})`;
}

/** `coleta schedule create`: creates the schedule, refusing an id already in use. */
export async function createSchedule(request: ScheduleRequest, config: RuntimeConfig, out: Out = console.log) {
  const { input } = request;
  const metadata = runMetadata(input);
  const sink = metadata.memo.sink;
  const memo: ScheduleMemo = {
    dataset: input.datasetId,
    sink,
    when: describeWhen(request),
    ...(request.freshnessMs !== undefined ? { freshnessMs: request.freshnessMs } : {}),
  };
  const note = `Collects ${input.datasetId} into ${sink} ${describeWhen(request)}`;
  return withClient(config, async (client) => {
    let handle: ScheduleHandle;
    try {
      handle = await client.schedule.create({
        scheduleId: request.scheduleId,
        spec: specOf(request),
        action: {
          type: 'startWorkflow',
          workflowType: 'collectDataset',
          workflowId: collectionWorkflowId(input),
          taskQueue: config.taskQueue,
          args: [input],
          ...metadata,
          staticSummary: `${metadata.staticSummary} (schedule ${request.scheduleId})`,
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: request.catchupWindowMs },
        state: { paused: request.paused, note },
        memo: memo as unknown as Record<string, unknown>,
      });
    } catch (error) {
      if (error instanceof ScheduleAlreadyRunning) {
        throw new RunError(`a schedule "${request.scheduleId}" exists already (see \`coleta schedule describe\`)`);
      }
      throw error;
    }
    const description = await handle.describe();
    out(`created schedule ${request.scheduleId}${request.paused ? ' (paused)' : ''}: ${note}`);
    const next = description.info.nextActionTimes[0];
    if (next && !request.paused) out(`  next run ${next.toISOString()}`);
    if (request.freshnessMs !== undefined) {
      out(`  stale when the last success is over ${formatDuration(request.freshnessMs)} old`);
    }
    try {
      const watch = await startHealthWatch(client, config);
      out(`  health watch ${HEALTH_WATCH_ID} ${watch.started ? 'started' : 'runs already'}: ${watch.link}`);
    } catch (error) {
      // the schedule exists and collects; only its staleness alerts wait for `coleta watch`
      out(`  the health watch could not be started (${(error as Error).message}); start it with \`coleta watch\``);
    }
    return 0;
  });
}

/**
 * Starts the health watch (`../workflows/watch-health.ts`) unless it runs already, in which case it is left as
 * it is, its interval included. Says whether this call started it, with its Web UI link.
 */
export async function startHealthWatch(
  client: Client,
  config: RuntimeConfig,
  checkEveryMs?: number,
): Promise<{ started: boolean; handle: WorkflowHandle<typeof watchHealth>; link: string }> {
  const every = checkEveryMs ?? 60_000;
  const existing = await client.workflow
    .getHandle(HEALTH_WATCH_ID)
    .describe()
    .catch(() => undefined);
  const handle = await client.workflow.start<typeof watchHealth>('watchHealth', {
    workflowId: HEALTH_WATCH_ID,
    taskQueue: config.taskQueue,
    args: [{ checkEveryMs: every }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Health watch: alerts when a scheduled dataset goes stale, and when it is fresh again`,
    staticDetails:
      `Every ${formatDuration(every)}, reads each dataset's last success and the freshness its schedules promise ` +
      `(their memo), and posts one alert to the worker's webhook (COLETA_ALERT_WEBHOOK_URL) when a dataset becomes ` +
      `stale, and one when it is fresh again. The query \`openIncidents\` lists the datasets alerted as stale.`,
  });
  const started = existing?.status.name !== 'RUNNING';
  // the page of the workflow id, not of a run: the watch continues as new, and the page shows its latest run
  const link = workflowUrl(config.webUiUrl, config.temporal.namespace, HEALTH_WATCH_ID);
  return { started, handle, link };
}

/** Describes a schedule, with a message naming the id when there is none. */
async function describeSchedule(client: Client, scheduleId: string) {
  const handle = client.schedule.getHandle(scheduleId);
  try {
    return { handle, description: await handle.describe() };
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) {
      throw new RunError(`no schedule has the id "${scheduleId}" (see \`coleta schedule list\`)`);
    }
    throw error;
  }
}

/** `coleta schedule list`: every schedule, with what it collects and when it runs next. */
export async function listSchedules(options: { json?: boolean }, config: RuntimeConfig, out: Out = console.log) {
  return withClient(config, async (client) => {
    const rows: ReturnType<typeof scheduleSummary>[] = [];
    for await (const summary of client.schedule.list()) {
      // the list is eventually consistent and holds little: each schedule is described for its memo and state
      const { description } = await describeSchedule(client, summary.scheduleId).catch(() => ({ description: null }));
      if (description) rows.push(scheduleSummary(description));
    }
    if (options.json) {
      out(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      out('no schedules');
      return 0;
    }
    out(
      table([
        ['schedule', 'state', 'dataset', 'when', 'next run', 'runs'],
        ...rows.map((row) => [
          row.scheduleId,
          row.paused ? 'paused' : 'active',
          row.dataset ?? '-',
          row.when,
          row.nextRun ?? '-',
          String(row.runs),
        ]),
      ]),
    );
    return 0;
  });
}

/** `coleta schedule describe <id>`. */
export async function showSchedule(
  scheduleId: string,
  options: { json?: boolean },
  config: RuntimeConfig,
  out: Out = console.log,
) {
  return withClient(config, async (client) => {
    const { description } = await describeSchedule(client, scheduleId);
    const summary = scheduleSummary(description);
    if (options.json) {
      out(JSON.stringify(summary, null, 2));
      return 0;
    }
    out(
      table([
        ['schedule', summary.scheduleId],
        ['state', summary.paused ? 'paused' : 'active'],
        ['note', summary.note ?? '-'],
        ['dataset', summary.dataset ?? '-'],
        ['sink', summary.sink ?? '-'],
        ['when', summary.when],
        ['overlap', summary.overlap],
        ['catch-up', summary.catchupWindow],
        ['freshness', summary.freshness ?? '-'],
        ['next runs', summary.nextRuns.join(', ') || '-'],
        ['runs', String(summary.runs)],
      ]),
    );
    if (summary.recent.length > 0) {
      out('');
      out(table([['recent run', 'started'], ...summary.recent.map((run) => [run.workflowId, run.takenAt])]));
    }
    return 0;
  });
}

/** `coleta schedule pause|unpause|trigger|delete <id>`. */
export async function changeSchedule(
  change: 'pause' | 'unpause' | 'trigger' | 'delete',
  scheduleId: string,
  options: { note?: string },
  config: RuntimeConfig,
  out: Out = console.log,
) {
  return withClient(config, async (client) => {
    const { handle } = await describeSchedule(client, scheduleId);
    if (change === 'pause') await handle.pause(options.note ?? 'paused with coleta schedule pause');
    else if (change === 'unpause') await handle.unpause(options.note ?? 'unpaused with coleta schedule unpause');
    else if (change === 'trigger') await handle.trigger();
    else await handle.delete();
    const done = { pause: 'paused', unpause: 'unpaused', trigger: 'triggered', delete: 'deleted' }[change];
    out(`${done} schedule ${scheduleId}`);
    return 0;
  });
}

/** What `schedule list` and `describe` say of a schedule. */
export function scheduleSummary(description: ScheduleDescription) {
  const memo = (description.memo ?? {}) as Partial<ScheduleMemo>;
  const { spec } = description;
  const interval = spec.intervals?.[0];
  // a cron spec comes back as structured calendars: the memo keeps it as it was given
  const when = memo.when ?? (interval ? `every ${formatDuration(Number(interval.every))}` : 'on a calendar');
  const jitter = spec.jitter ? `, jitter ${formatDuration(Number(spec.jitter))}` : '';
  const action = description.action as { workflowType?: string };
  return {
    scheduleId: description.scheduleId,
    workflowType: action.workflowType,
    paused: description.state.paused,
    note: description.state.note,
    dataset: memo.dataset,
    sink: memo.sink,
    freshnessMs: memo.freshnessMs,
    freshness: memo.freshnessMs !== undefined ? formatDuration(memo.freshnessMs) : undefined,
    when: `${when}${jitter}`,
    overlap: String(description.policies.overlap),
    catchupWindow: formatDuration(Number(description.policies.catchupWindow)),
    nextRun: description.state.paused ? undefined : description.info.nextActionTimes[0]?.toISOString(),
    nextRuns: description.state.paused ? [] : description.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    runs: description.info.numActionsTaken,
    createdAt: description.info.createdAt?.toISOString(),
    recent: description.info.recentActions.map((result) => ({
      workflowId: result.action.workflow.workflowId,
      takenAt: result.takenAt.toISOString(),
    })),
  };
}

/** Every schedule that starts collections, described; for `coleta status`. */
export async function collectionSchedules(client: Client) {
  const found: ReturnType<typeof scheduleSummary>[] = [];
  for await (const summary of client.schedule.list()) {
    const handle = client.schedule.getHandle(summary.scheduleId);
    const description = await handle.describe().catch(() => undefined);
    if (description && (description.action as { workflowType?: string }).workflowType === 'collectDataset') {
      found.push(scheduleSummary(description));
    }
  }
  return found;
}
