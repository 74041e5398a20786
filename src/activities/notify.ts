/**
 * Alerts, as activities: `notifyOutcome` at the end of each collection run, and `checkHealth` on each beat
 * of the health watch. Each alerts once per incident: a run's failure when the dataset's previous finished run
 * did not fail too, a dataset's staleness when it was not stale at the previous check; and once more when the
 * incident ends. Neither ever fails: an alert that cannot be delivered is logged, and what it reports on goes on.
 *
 * The webhook URL stays in the worker: it is neither an input nor a result, so it never reaches the history.
 */
import { Context, log } from '@temporalio/activity';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { deliverAlert, webhookHost, type Alert, type AlertTarget, type Delivery } from '../alerts';
import { workflowUrl } from '../cli/format';
import { datasetHealth, type DatasetHealth } from '../health';
import { COLLECTION_OUTCOME, DATASET_ID } from '../search-attributes';

/** What a collection run tells of how it ended; the workflow sends it at its very end. */
export interface OutcomeNotice {
  datasetId: string;
  workflowId: string;
  runId: string;
  collectionId: string;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  /** The phase the run ended in. */
  phase: string;
  /** Why it failed: the failure's type and message. */
  reason?: string;
  /** The gs:// path of the run's collection.md. */
  record?: string;
}

/** What `notifyOutcome` did, and why, in words. */
export interface NoticeResult {
  sent: 'failed' | 'recovered' | null;
  delivered: boolean;
  why: string;
}

/** The datasets whose staleness has been alerted and not yet resolved, as the health watch keeps them. */
export interface HealthCheckInput {
  open: string[];
}

/** What one check of the health watch found and did. */
export interface HealthCheckResult {
  /** The datasets stale now whose alert went out (or could not go out for good): the new open set. */
  open: string[];
  /** The datasets with a freshness to keep. */
  watched: string[];
  /** The datasets stale now. */
  stale: string[];
  /** The alerts sent in this check. */
  sent: { kind: 'stale' | 'fresh-again'; dataset: string; delivered: boolean }[];
  /** Why the check could not read the health, when it could not; the open set is then kept as it was. */
  error?: string;
}

/** What the alert activities need of the worker's settings. */
export interface NotifySettings {
  /** The webhook and format; no alerts are sent without it. */
  alerts?: AlertTarget;
  /** Base of the Web UI links, such as `http://127.0.0.1:8233`. */
  webUiUrl: string;
}

/** How many closed runs of a dataset are read to find the one that closed last. */
const PREVIOUS_RUNS = 100;

/** Makes the alert activities. */
export function makeNotify(settings: NotifySettings) {
  const target = settings.alerts;

  /** Alerts on a run's outcome, once per incident; see the module comment. Never throws. */
  async function notifyOutcome(notice: OutcomeNotice): Promise<NoticeResult> {
    const fields = { dataset: notice.datasetId, workflowId: notice.workflowId, runId: notice.runId };
    try {
      if (notice.outcome === 'cancelled') return { sent: null, delivered: false, why: 'a cancelled run alerts no one' };
      if (!target) {
        return { sent: null, delivered: false, why: 'no alert webhook is configured (COLETA_ALERT_WEBHOOK_URL)' };
      }
      const context = Context.current();
      const previous = await previousFinishedRun(context.client, notice);
      const previousFailed = previous?.outcome === 'failed';
      const previousText = previous ? `${previous.workflowId} run ${previous.runId}` : '';
      if (notice.outcome === 'failed' && previousFailed) {
        log.info('failure not alerted: the incident is open already', { ...fields, previous: previousText });
        return {
          sent: null,
          delivered: false,
          why: `the previous finished run (${previousText}) failed too: the incident was alerted already`,
        };
      }
      if (notice.outcome === 'succeeded' && !previousFailed) {
        return { sent: null, delivered: false, why: 'succeeded, and the previous finished run did not fail' };
      }
      const kind = notice.outcome === 'failed' ? 'failed' : 'recovered';
      const alert: Alert = {
        kind,
        dataset: notice.datasetId,
        workflowId: notice.workflowId,
        runId: notice.runId,
        phase: notice.phase,
        reason:
          kind === 'failed'
            ? (notice.reason ?? 'the run failed; see the Web UI')
            : `succeeded after the failure of ${previousText}`,
        webUi: workflowUrl(
          settings.webUiUrl,
          context.info.workflowNamespace ?? context.info.namespace,
          notice.workflowId,
          notice.runId,
        ),
        ...(notice.record ? { record: notice.record } : {}),
        at: new Date().toISOString(),
      };
      const delivery = await deliverAlert(alert, target, { log });
      return {
        sent: kind,
        delivered: delivery.delivered,
        why: delivered(kind, delivery, target),
      };
    } catch (error) {
      // whatever went wrong here, the run it reports on must end as it would have
      log.warn('alert skipped: the outcome could not be judged', { ...fields, error: String(error) });
      return { sent: null, delivered: false, why: `the alert could not be prepared: ${String(error)}` };
    }
  }

  /**
   * One check of the health watch. A dataset is stale when its last success is older than its freshness, or
   * when it has never succeeded though it has been scheduled (with a freshness) for longer than that freshness.
   * Each newly stale dataset gets a `stale` alert; each dataset of `open` that is fresh again gets a
   * `fresh-again` one. A dataset whose schedules were paused or deleted leaves the open set quietly, since
   * nothing is expected of it any more. Never throws.
   */
  async function checkHealth(input: HealthCheckInput): Promise<HealthCheckResult> {
    const now = Date.now();
    let health: DatasetHealth[];
    try {
      health = await datasetHealth(Context.current().client, now, { failureReasons: false });
    } catch (error) {
      log.warn('health check failed: the open incidents are kept', { error: String(error) });
      return { open: input.open, watched: [], stale: [], sent: [], error: String(error) };
    }
    const open = new Set(input.open);
    const result: HealthCheckResult = { open: [], watched: [], stale: [], sent: [] };
    for (const dataset of health) {
      if (dataset.freshnessMs === null) {
        if (open.delete(dataset.dataset)) {
          log.info('dataset no longer scheduled: incident closed', { dataset: dataset.dataset });
        }
        continue;
      }
      result.watched.push(dataset.dataset);
      const stale = isStale(dataset, now);
      if (stale) result.stale.push(dataset.dataset);
      const kind =
        stale && !open.has(dataset.dataset) ? 'stale' : !stale && open.has(dataset.dataset) ? 'fresh-again' : null;
      if (!kind) continue;
      let delivery: Delivery | undefined;
      if (target) {
        delivery = await deliverAlert(freshnessAlert(kind, dataset, now), target, { log });
        result.sent.push({ kind, dataset: dataset.dataset, delivered: delivery.delivered });
      } else {
        log.info(`dataset ${kind}; no alert webhook is configured`, { dataset: dataset.dataset });
      }
      // an alert that may still get through is tried again at the next check
      if (delivery && !delivery.delivered && delivery.retryable) continue;
      if (kind === 'stale') open.add(dataset.dataset);
      else open.delete(dataset.dataset);
    }
    const known = new Set(health.map((dataset) => dataset.dataset));
    result.open = [...open].filter((dataset) => known.has(dataset)).sort();
    return result;
  }

  function freshnessAlert(kind: 'stale' | 'fresh-again', dataset: DatasetHealth, now: number): Alert {
    const freshness = formatAge(dataset.freshnessMs ?? 0);
    const success = dataset.lastSuccess;
    const reason = !success
      ? `never succeeded, though scheduled since ${dataset.scheduledSince ?? '?'}; expected within ${freshness}`
      : kind === 'stale'
        ? `last success ${formatAge(now - Date.parse(success.at))} ago (${success.at}); expected within ${freshness}`
        : `succeeded at ${success.at}, within ${freshness}`;
    const namespace = Context.current().info.namespace;
    const workflowId = success?.workflowId ?? dataset.lastFailure?.workflowId;
    // with no run to show, the page of the schedule that promised the freshness
    const scheduleId = dataset.schedules.find((schedule) => !schedule.endsWith(' (paused)'));
    const webUi = workflowId
      ? workflowUrl(settings.webUiUrl, namespace, workflowId)
      : scheduleId
        ? `${settings.webUiUrl}/namespaces/${encodeURIComponent(namespace)}/schedules/${encodeURIComponent(scheduleId)}`
        : undefined;
    return {
      kind,
      dataset: dataset.dataset,
      ...(workflowId ? { workflowId } : {}),
      ...(webUi ? { webUi } : {}),
      reason,
      at: new Date(now).toISOString(),
    };
  }

  return { notifyOutcome, checkHealth };
}

/** Stale, as the health watch alerts on it (see `checkHealth`). */
export function isStale(dataset: DatasetHealth, now: number): boolean {
  if (dataset.freshness === 'stale') return true;
  if (dataset.freshness !== 'never succeeded' || dataset.freshnessMs === null || !dataset.scheduledSince) return false;
  return now - Date.parse(dataset.scheduledSince) > dataset.freshnessMs;
}

/** The dataset's finished run that closed last, other than `notice`'s own; cancelled runs do not count. */
async function previousFinishedRun(
  client: Client,
  notice: OutcomeNotice,
): Promise<{ workflowId: string; runId: string; outcome: 'succeeded' | 'failed' } | undefined> {
  const dataset = notice.datasetId.replace(/['\\]/g, (c) => `\\${c}`);
  const query =
    `WorkflowType = 'collectDataset' AND ${DATASET_ID.name} = '${dataset}' ` + `AND ExecutionStatus != 'Running'`;
  let found: { info: WorkflowExecutionInfo; outcome: 'succeeded' | 'failed' } | undefined;
  let read = 0;
  for await (const info of client.workflow.list({ query, pageSize: PREVIOUS_RUNS })) {
    if (++read > PREVIOUS_RUNS) break;
    if (info.runId === notice.runId || !info.closeTime) continue;
    const outcome = finishedOutcome(info);
    if (!outcome) continue;
    if (!found || (found.info.closeTime as Date) < info.closeTime) found = { info, outcome };
  }
  return found && { workflowId: found.info.workflowId, runId: found.info.runId, outcome: found.outcome };
}

/** How a closed run ended, for the incident: succeeded, failed (also terminated or timed out), or cancelled. */
function finishedOutcome(info: WorkflowExecutionInfo): 'succeeded' | 'failed' | undefined {
  if (info.status.name === 'COMPLETED') return 'succeeded';
  if (info.status.name === 'CANCELLED' || info.typedSearchAttributes.get(COLLECTION_OUTCOME) === 'cancelled') {
    return undefined;
  }
  return 'failed';
}

function delivered(kind: string, delivery: Delivery, target: AlertTarget): string {
  const where = webhookHost(target.webhookUrl);
  return delivery.delivered
    ? `${kind} alert delivered to ${where} in ${delivery.attempts} attempt(s)`
    : `${kind} alert not delivered to ${where} after ${delivery.attempts} attempt(s): ${delivery.error ?? 'unknown'}`;
}

/** A duration as people say it, rounded: `45s`, `3m`, `2h 5m`, `3d 4h`. */
function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
