/**
 * Fault injection, so that tests can watch the pipeline meet an origin that misbehaves the way real ones do:
 * a refused or failing request, a slow answer, a body of unknown length, a server without range support.
 * Faults are keyed by URL path (as sent, without the query) and are off until one is set.
 */

/** How to misbehave on a path. */
export interface Fault {
  /** Answer this status (e.g. 403, 500, 503) instead of the real answer. */
  status?: number;
  /** Stream the body with chunked encoding and no Content-Length (and send none on HEAD either). */
  omitContentLength?: boolean;
  /** Answer a Range request with 200 and the whole file, and send no Accept-Ranges. */
  ignoreRange?: boolean;
  /** Wait this many milliseconds before answering. */
  delayMs?: number;
  /** Send this many bytes of a GET body, then drop the connection, as a flaky network does. */
  dropAfterBytes?: number;
  /** Apply to the next N requests only; absent means until cleared. */
  times?: number;
}

/** A fault as listed: its path, and in `times` the requests it still applies to. */
export type ListedFault = Fault & { path: string };

/** A fault description that is not valid, naming the field at fault. */
export class FaultError extends Error {
  constructor(
    /** The offending field. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'FaultError';
  }
}

// long enough to outlast any client timeout a test sets, short enough not to wedge a forgotten run
const MAX_DELAY_MS = 600_000;
const FIELDS = new Set(['status', 'omitContentLength', 'ignoreRange', 'delayMs', 'dropAfterBytes', 'times']);

/** Checks a fault's fields, throwing a {@link FaultError} for the first bad one. */
export function parseFault(value: unknown, allowed: ReadonlySet<string> = FIELDS): Fault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FaultError('fault', 'must be a JSON object');
  }
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!allowed.has(key)) throw new FaultError(key, 'is not a fault field');
  }

  const fault: Fault = {};
  if (input.status !== undefined) fault.status = integerIn(input.status, 'status', 200, 599);
  if (input.omitContentLength !== undefined) {
    fault.omitContentLength = boolean(input.omitContentLength, 'omitContentLength');
  }
  if (input.ignoreRange !== undefined) fault.ignoreRange = boolean(input.ignoreRange, 'ignoreRange');
  if (input.delayMs !== undefined) fault.delayMs = integerIn(input.delayMs, 'delayMs', 0, MAX_DELAY_MS);
  if (input.dropAfterBytes !== undefined) {
    fault.dropAfterBytes = integerIn(input.dropAfterBytes, 'dropAfterBytes', 0, Number.MAX_SAFE_INTEGER);
  }
  if (input.times !== undefined) fault.times = integerIn(input.times, 'times', 1, Number.MAX_SAFE_INTEGER);

  if (
    fault.status === undefined &&
    !fault.omitContentLength &&
    !fault.ignoreRange &&
    !fault.delayMs &&
    fault.dropAfterBytes === undefined
  ) {
    throw new FaultError(
      'fault',
      'needs at least one of status, omitContentLength, ignoreRange, delayMs, dropAfterBytes',
    );
  }
  return fault;
}

/** Checks a fault's path: absolute, without a query string. */
export function parseFaultPath(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || /[?#\s]/.test(value)) {
    throw new FaultError('path', 'must be a URL path starting with / and without query, fragment or spaces');
  }
  return value;
}

function integerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FaultError(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new FaultError(field, 'must be true or false');
  return value;
}

/** The faults in force, by path. */
export class FaultTable {
  private readonly faults = new Map<string, Fault>();

  /** Sets the fault of a path, replacing any earlier one; throws a {@link FaultError} if it is not valid. */
  set(path: string, fault: Fault): void {
    this.faults.set(parseFaultPath(path), parseFault(fault));
  }

  /** Removes every fault. */
  clear(): void {
    this.faults.clear();
  }

  /** The faults in force. */
  list(): ListedFault[] {
    return [...this.faults].map(([path, fault]) => ({ path, ...fault }));
  }

  /** The fault that applies to one request on `path`, counting it against `times`. */
  take(path: string): Fault | undefined {
    const fault = this.faults.get(path);
    if (fault?.times === undefined) return fault;
    if (fault.times <= 1) this.faults.delete(path);
    else this.faults.set(path, { ...fault, times: fault.times - 1 });
    return fault;
  }
}
