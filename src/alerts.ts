/**
 * Alerts: one notification when a collection fails or a dataset goes stale, and one when it is well again,
 * posted to a webhook that takes a JSON body. The `text` format, `{"text": ...}`, is what Slack, Mattermost,
 * Google Chat and Rocket.Chat incoming webhooks accept; `json` adds the alert's fields for machines.
 *
 * The webhook URL is a secret (its path or query holds the webhook's token): it goes only into the request,
 * and logs name its host alone. Delivery retries what a retry can cure and never throws, so that an alert
 * that cannot be delivered never fails what it reports on.
 */
import { redactUrl } from './redact';

/** What an alert tells. `failed` and `stale` open an incident; `recovered` and `fresh-again` close it. */
export type AlertKind = 'failed' | 'recovered' | 'stale' | 'fresh-again';

/** One alert, with everything an operator needs to act on it. */
export interface Alert {
  kind: AlertKind;
  dataset: string;
  workflowId?: string;
  runId?: string;
  /** The phase the run ended in (`transfer`, `integrity`, ...). */
  phase?: string;
  /** Why, in one line: the failure's type and message, or how old the last success is. */
  reason: string;
  /** The run's page in the Web UI. */
  webUi?: string;
  /** Where the run's record is, `gs://.../collection.md`, when known. */
  record?: string;
  /** When it was noticed, ISO 8601. */
  at: string;
}

/** Where alerts go and in which body, as `RuntimeConfig.alerts` holds it. */
export interface AlertTarget {
  webhookUrl: string;
  format: 'text' | 'json';
}

/** How a delivery went. `retryable` is false when trying again later cannot help (a 4xx other than 429). */
export interface Delivery {
  delivered: boolean;
  attempts: number;
  status?: number;
  retryable: boolean;
  error?: string;
}

/** Where delivery logs its failures; the activity logger fits. */
export interface AlertLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** How hard delivery tries: a few tries within a bounded time, each with its own timeout. */
export interface DeliveryOptions {
  /** At most this many tries (4 by default). */
  attempts?: number;
  /** Each try gives up after this long (5 s by default). */
  timeoutMs?: number;
  /** All tries and waits end within this (15 s by default). */
  totalMs?: number;
  /** The first wait between tries, doubled after each (1 s by default). */
  backoffMs?: number;
  /** A Retry-After longer than this is cut to it (10 s by default). */
  maxRetryAfterMs?: number;
  log?: AlertLogger;
}

const HEADLINES: Record<AlertKind, (alert: Alert) => string> = {
  failed: (a) => `[coleta] FAILED: collection of \`${a.dataset}\` failed${a.phase ? ` in ${a.phase}` : ''}`,
  recovered: (a) => `[coleta] RECOVERED: collection of \`${a.dataset}\` succeeded again`,
  stale: (a) => `[coleta] STALE: \`${a.dataset}\` is not as fresh as its schedule promises`,
  'fresh-again': (a) => `[coleta] FRESH AGAIN: \`${a.dataset}\` is fresh again`,
};

/**
 * The alert in a few lines: a headline, then the reason, the run, the record and the Web UI link. Ids are in
 * backticks and links bare, which Slack, Mattermost and Google Chat all render; nothing else is formatted.
 */
export function alertText(alert: Alert): string {
  const lines = [HEADLINES[alert.kind](alert), `Reason: ${scrub(alert.reason)}`];
  if (alert.workflowId) lines.push(`Run: \`${alert.workflowId}\`${alert.runId ? ` run \`${alert.runId}\`` : ''}`);
  if (alert.phase && alert.kind !== 'failed') lines.push(`Phase: ${alert.phase}`);
  if (alert.record) lines.push(`Record: ${alert.record}`);
  if (alert.webUi) lines.push(`Web UI: ${alert.webUi}`);
  lines.push(`At: ${alert.at}`);
  return lines.join('\n');
}

/** The JSON body of the alert in a format. */
export function alertBody(alert: Alert, format: AlertTarget['format']): Record<string, unknown> {
  const text = alertText(alert);
  if (format === 'text') return { text };
  return { text, alert: { ...alert, reason: scrub(alert.reason) } };
}

/** The host of the webhook, which is all of its URL that a log may show. */
export function webhookHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '<unparseable URL>';
  }
}

/**
 * Posts the alert. Network errors, timeouts, 5xx and 429 are tried again with backoff (a 429's Retry-After
 * is honoured up to `maxRetryAfterMs`); any other answer below 200 or from 300 up is final. Never throws.
 */
export async function deliverAlert(
  alert: Alert,
  target: AlertTarget,
  options: DeliveryOptions = {},
): Promise<Delivery> {
  const attempts = options.attempts ?? 4;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = Date.now() + (options.totalMs ?? 15_000);
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  const host = webhookHost(target.webhookUrl);
  const fields = { kind: alert.kind, dataset: alert.dataset, webhook: host };
  let body: string;
  try {
    body = JSON.stringify(alertBody(alert, target.format));
  } catch (error) {
    return { delivered: false, attempts: 0, retryable: false, error: `the alert cannot be encoded: ${String(error)}` };
  }
  let backoffMs = options.backoffMs ?? 1_000;
  let last: Delivery = { delivered: false, attempts: 0, retryable: true, error: 'not tried' };
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let waitMs = backoffMs;
    try {
      const response = await fetch(target.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(Math.min(timeoutMs, left)),
      });
      // the body is read (and dropped) so that the connection is released
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        options.log?.info('alert delivered', { ...fields, attempts: attempt, status: response.status });
        return { delivered: true, attempts: attempt, status: response.status, retryable: false };
      }
      const retryable = response.status >= 500 || response.status === 429;
      last = {
        delivered: false,
        attempts: attempt,
        status: response.status,
        retryable,
        error: `HTTP ${response.status}`,
      };
      if (!retryable) break;
      const after = retryAfterMs(response.headers.get('retry-after'));
      if (after !== undefined) waitMs = Math.min(after, maxRetryAfterMs);
    } catch (error) {
      last = { delivered: false, attempts: attempt, retryable: true, error: describeError(error, target.webhookUrl) };
    }
    if (attempt === attempts || Date.now() + waitMs >= deadline) break;
    options.log?.warn('alert not delivered yet, retrying', { ...fields, attempt, error: last.error, waitMs });
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    backoffMs *= 2;
  }
  options.log?.warn('alert not delivered', { ...fields, attempts: last.attempts, error: last.error });
  return last;
}

/** A Retry-After header in milliseconds: seconds, or an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** An error of fetch in one line, with the webhook URL cut out in case the runtime quoted it. */
function describeError(error: unknown, webhookUrl: string): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const name = (error as { name?: string }).name;
  const text =
    name === 'TimeoutError'
      ? 'no answer within the timeout'
      : `${error instanceof Error ? error.message : String(error)}${cause?.code ? ` (${cause.code})` : ''}`;
  return text.split(webhookUrl).join(webhookHost(webhookUrl));
}

/** Text with every URL in it redacted (a failure's message may quote a signed URL). */
function scrub(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s"'<>)]+/g, (url) => redactUrl(url));
}
