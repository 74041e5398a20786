/**
 * The health watch: one long-running workflow (id {@link HEALTH_WATCH_ID}) that checks every dataset's
 * freshness on a beat and alerts once when a dataset goes stale and once when it is fresh again. It keeps
 * the datasets alerted and not yet fresh (the open incidents) in its state, so that a stale dataset is not
 * alerted at every check, and carries them over when it continues as new to keep its history short.
 */
import {
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../activities';

/** The fixed workflow id of the health watch: one per namespace, started with the USE_EXISTING policy. */
export const HEALTH_WATCH_ID = 'coleta-health-watch';

/** How the watch runs; `open` is carried over from the run it continues. */
export interface WatchHealthInput {
  /** Milliseconds between checks; a minute by default. */
  checkEveryMs?: number;
  /** The datasets alerted as stale and not fresh since. */
  open?: string[];
}

/** The datasets alerted as stale and not yet fresh again. */
export const openIncidentsQuery = defineQuery<string[]>('openIncidents');

const DEFAULT_CHECK_EVERY_MS = 60_000;

/** Checks per run before it continues as new: about 2,200 history events at most. */
const CHECKS_PER_RUN = 200;

const { checkHealth } = proxyActivities<Activities>({
  // the check lists runs and schedules, then posts at most a few alerts of 15 s each
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});

/** Watches every scheduled dataset's freshness: see the module comment. */
export async function watchHealth(input: WatchHealthInput = {}): Promise<void> {
  const every = input.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS;
  let open = [...(input.open ?? [])];
  setHandler(openIncidentsQuery, () => open);
  setCurrentDetails(watching(every, 'first check under way', open));

  for (let check = 0; check < CHECKS_PER_RUN; check += 1) {
    try {
      const result = await checkHealth.executeWithOptions(
        { summary: `Health check: freshness of every scheduled dataset, ${open.length} incident(s) open` },
        [{ open }],
      );
      open = result.open;
      const at = new Date().toISOString();
      const found = result.error
        ? `last check ${at} could not read the health: ${result.error}`
        : `last check ${at}: ${result.watched.length} dataset(s) watched, ` +
          `${result.stale.length === 0 ? 'none stale' : `stale: ${result.stale.join(', ')}`}`;
      setCurrentDetails(watching(every, found, open));
    } catch (error) {
      if (isCancellation(error)) throw error;
      // the activity itself never fails; this is its timeout after retries, and the next beat tries again
      log.warn('health check did not complete', { error: String(error) });
      setCurrentDetails(watching(every, `last check did not complete: ${String(error)}`, open));
    }
    await sleep(every);
  }
  await continueAsNew<typeof watchHealth>({ checkEveryMs: every, open });
}

/** The current details, in Markdown, as the Web UI shows them. */
function watching(everyMs: number, found: string, open: string[]): string {
  const seconds = Math.round(everyMs / 1000);
  return (
    `**watching** the freshness of every scheduled dataset every ${seconds} s; ` +
    `alerts when one goes stale and when it is fresh again. ${found}. ` +
    `Open incidents: ${open.length === 0 ? 'none' : open.join(', ')}`
  );
}
