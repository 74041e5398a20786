/**
 * The flags of `coleta schedule create`, checked into a schedule request before anything is created: the
 * collection (as `collect` takes it), when it runs (an interval or a cron spec in a time zone), and the
 * policies. Kept apart from the command, which loads the Temporal client, so that bad input is refused at once.
 */
import type { RuntimeConfig } from '../config';
import { InputError } from '../collection';
import type { CollectInput } from '../workflows';
import { collectInputFromOptions, parseDuration, type CollectOptions } from './collect-input';

/** The flags of `coleta schedule create`, as commander gives them. */
export interface ScheduleCreateOptions extends CollectOptions {
  id?: string;
  every?: string;
  cron?: string;
  timezone?: string;
  jitter?: string;
  catchupWindow: string;
  freshness?: string;
  paused?: boolean;
}

/** A schedule to create, validated. */
export interface ScheduleRequest {
  scheduleId: string;
  input: CollectInput;
  /** Either an interval or a cron spec. */
  when: { everyMs: number } | { cron: string };
  timezone: string;
  jitterMs: number;
  catchupWindowMs: number;
  /** How old the last success of the dataset may be before it is stale; undefined when no figure applies. */
  freshnessMs: number | undefined;
  paused: boolean;
}

const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Turns the flags into a validated request; throws an {@link InputError} naming the bad flag. */
export function scheduleRequestFromOptions(options: ScheduleCreateOptions, config: RuntimeConfig): ScheduleRequest {
  const input = collectInputFromOptions(options, config);
  if ((options.every === undefined) === (options.cron === undefined)) {
    throw new InputError('give when it runs: --every <interval> or --cron "<spec>"');
  }
  let when: ScheduleRequest['when'];
  if (options.every !== undefined) {
    const everyMs = parseDuration('--every', options.every);
    if (everyMs < 1000) throw new InputError(`--every: "${options.every}" is shorter than a second`);
    when = { everyMs };
  } else {
    when = { cron: checkCron(options.cron as string) };
  }
  const timezone = options.timezone ?? 'UTC';
  if (!isTimeZone(timezone)) {
    throw new InputError(`--timezone: "${timezone}" is not an IANA time zone (such as UTC or America/Sao_Paulo)`);
  }
  if (options.timezone !== undefined && 'everyMs' in when) {
    throw new InputError('--timezone applies to --cron; an --every interval does not depend on the time zone');
  }
  const jitterMs = options.jitter === undefined ? 0 : parseDuration('--jitter', options.jitter);
  if ('everyMs' in when && jitterMs >= when.everyMs) {
    throw new InputError(`--jitter: "${options.jitter}" is not shorter than --every "${options.every}"`);
  }
  const catchupWindowMs = parseDuration('--catchup-window', options.catchupWindow);
  if (catchupWindowMs < 10_000) {
    throw new InputError(`--catchup-window: "${options.catchupWindow}" is shorter than 10s, the least Temporal takes`);
  }
  const freshnessMs =
    options.freshness !== undefined
      ? parseDuration('--freshness', options.freshness)
      : 'everyMs' in when
        ? 2 * when.everyMs + jitterMs
        : undefined;
  const scheduleId = options.id ?? `collect-${input.datasetId}`;
  if (!SCHEDULE_ID.test(scheduleId)) {
    throw new InputError(`--id: "${scheduleId}" is not a schedule id (letters, digits, ".", "_" and "-", at most 200)`);
  }
  return { scheduleId, input, when, timezone, jitterMs, catchupWindowMs, freshnessMs, paused: options.paused === true };
}

/** Whether the runtime knows `name` as a time zone. */
function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const CRON_MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** The five fields of a cron spec: their names, ranges and the names they may use for numbers. */
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[]; nameBase?: number }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

/**
 * Checks a cron spec of five fields (minute hour day-of-month month day-of-week, with `*`, lists, ranges, steps
 * and month and day names) or a macro such as `@daily`, and returns it; throws naming the field that is wrong.
 * Time zones go in `--timezone`, not in the spec.
 */
export function checkCron(spec: string): string {
  const text = spec.trim();
  if (CRON_MACROS.has(text.toLowerCase())) return text.toLowerCase();
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    throw new InputError(
      `--cron: "${spec}" has ${fields.length} fields; give 5 (minute hour day-of-month month day-of-week) or @daily`,
    );
  }
  fields.forEach((field, index) => {
    const rule = CRON_FIELDS[index] as (typeof CRON_FIELDS)[number];
    const value = (part: string): number => {
      const named = rule.names?.indexOf(part.toUpperCase()) ?? -1;
      const number = named >= 0 ? named + (rule.nameBase ?? 0) : /^\d+$/.test(part) ? Number(part) : NaN;
      if (!(number >= rule.min && number <= rule.max)) {
        throw new InputError(`--cron: "${part}" is not a ${rule.name} (${rule.min}-${rule.max}) in "${spec}"`);
      }
      return number;
    };
    for (const item of field.split(',')) {
      const [range = '', step, extra] = item.split('/');
      if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) {
        throw new InputError(`--cron: "${item}" has a bad step in the ${rule.name} field of "${spec}"`);
      }
      if (range === '*') continue;
      const [from = '', to, more] = range.split('-');
      if (more !== undefined) throw new InputError(`--cron: "${range}" is not a range in "${spec}"`);
      if (to !== undefined && value(from) > value(to)) {
        throw new InputError(`--cron: "${range}" runs backwards in the ${rule.name} field of "${spec}"`);
      }
      value(from);
    }
  });
  return fields.join(' ');
}
