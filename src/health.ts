/**
 * The health of every dataset, as the Temporal server knows it: each dataset's last success, its last failure
 * and why, what runs now, its next scheduled run, and whether its data is as fresh as its schedules promise.
 * `coleta status` prints it; the health watch alerts on it; the worker's freshness gauge reads it.
 */
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { collectionSchedules } from './cli/schedules';
import { COLLECTION_OUTCOME, DATASET_ID } from './search-attributes';

/** What `coleta status` says of one dataset's health. */
export interface DatasetHealth {
  dataset: string;
  lastSuccess: { workflowId: string; at: string } | null;
  lastFailure: { workflowId: string; runId: string; at: string; outcome: string; reason: string } | null;
  running: string[];
  schedules: string[];
  nextRun: string | null;
  /** How old the last success may be, from the dataset's schedules (the strictest). */
  freshnessMs: number | null;
  /** When the oldest of the dataset's active schedules with a freshness was created. */
  scheduledSince: string | null;
  /** `fresh`, `stale`, `never succeeded`, or `not scheduled` when no freshness applies. */
  freshness: 'fresh' | 'stale' | 'never succeeded' | 'not scheduled';
  /** The last finished run failed, or the data is stale: something needs looking at. */
  needsAttention: boolean;
}

/** How many recent runs `status` reads to find each dataset's last success and failure. */
const HEALTH_RUNS = 1000;

/**
 * The health of every dataset that has runs or schedules, sorted by dataset. A dataset needs attention when it
 * is stale, has never succeeded while scheduled, or its last finished run failed. Without `failureReasons`,
 * each last failure's reason is left empty, which spares reading one history per dataset (the health watch
 * asks every minute, and needs only the freshness).
 */
export async function datasetHealth(
  client: Client,
  now = Date.now(),
  options: { failureReasons?: boolean } = {},
): Promise<DatasetHealth[]> {
  const byDataset = new Map<string, DatasetHealth>();
  const entry = (dataset: string): DatasetHealth => {
    let found = byDataset.get(dataset);
    if (!found) {
      found = {
        dataset,
        lastSuccess: null,
        lastFailure: null,
        running: [],
        schedules: [],
        nextRun: null,
        freshnessMs: null,
        scheduledSince: null,
        freshness: 'not scheduled',
        needsAttention: false,
      };
      byDataset.set(dataset, found);
    }
    return found;
  };
  /** The time and outcome of each dataset's last run that succeeded or failed. */
  const lastFinished = new Map<string, { at: string; failed: boolean }>();
  let read = 0;
  const query = `WorkflowType = 'collectDataset'`;
  for await (const execution of client.workflow.list({ query, pageSize: 200 })) {
    if (++read > HEALTH_RUNS) break;
    const dataset = execution.typedSearchAttributes.get(DATASET_ID);
    if (!dataset) continue;
    const health = entry(dataset);
    const outcome = execution.typedSearchAttributes.get(COLLECTION_OUTCOME);
    const closed = execution.closeTime?.toISOString();
    if (execution.status.name === 'RUNNING') health.running.push(execution.workflowId);
    if (!closed) continue;
    // a cancelled run was stopped on purpose: it neither opens nor closes an incident, as for the alerts
    const cancelled = outcome === 'cancelled' || execution.status.name === 'CANCELLED';
    const last = lastFinished.get(dataset);
    if (!cancelled && (!last || last.at < closed)) {
      lastFinished.set(dataset, { at: closed, failed: outcome !== 'succeeded' });
    }
    if (outcome === 'succeeded' && (!health.lastSuccess || health.lastSuccess.at < closed)) {
      health.lastSuccess = { workflowId: execution.workflowId, at: closed };
    } else if (outcome !== 'succeeded' && (!health.lastFailure || health.lastFailure.at < closed)) {
      health.lastFailure = {
        workflowId: execution.workflowId,
        runId: execution.runId,
        at: closed,
        outcome: outcome ?? execution.status.name,
        reason: '',
      };
    }
  }
  for (const health of byDataset.values()) {
    const failure = health.lastFailure;
    if (failure && options.failureReasons !== false) {
      failure.reason = await failureReason(client.workflow.getHandle(failure.workflowId, failure.runId));
    }
  }
  for (const schedule of await collectionSchedules(client)) {
    if (!schedule.dataset) continue;
    const health = entry(schedule.dataset);
    health.schedules.push(`${schedule.scheduleId}${schedule.paused ? ' (paused)' : ''}`);
    if (schedule.nextRun && (!health.nextRun || schedule.nextRun < health.nextRun)) health.nextRun = schedule.nextRun;
    if (schedule.freshnessMs !== undefined && !schedule.paused) {
      health.freshnessMs = Math.min(health.freshnessMs ?? Infinity, schedule.freshnessMs);
      if (schedule.createdAt && (!health.scheduledSince || schedule.createdAt < health.scheduledSince)) {
        health.scheduledSince = schedule.createdAt;
      }
    }
  }
  for (const health of byDataset.values()) {
    if (health.freshnessMs !== null) {
      health.freshness = !health.lastSuccess
        ? 'never succeeded'
        : now - Date.parse(health.lastSuccess.at) > health.freshnessMs
          ? 'stale'
          : 'fresh';
    }
    health.needsAttention =
      health.freshness === 'stale' ||
      health.freshness === 'never succeeded' ||
      lastFinished.get(health.dataset)?.failed === true;
  }
  return [...byDataset.values()].sort((a, b) => (a.dataset < b.dataset ? -1 : 1));
}

/** Why a closed run did not succeed, in one line: its failure's type and message, or its status. */
async function failureReason(handle: WorkflowHandle): Promise<string> {
  try {
    await handle.result();
    return 'it completed';
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) return error instanceof Error ? error.message : String(error);
    if (error.cause instanceof CancelledFailure) return 'cancelled';
    let cause: unknown = error.cause;
    let found = error.cause?.message ?? error.message;
    let type: string | undefined;
    for (; cause instanceof Error; cause = cause.cause) {
      found = cause.message;
      type = (cause as { type?: string }).type ?? type;
    }
    return type ? `${type}: ${found}` : found;
  }
}
