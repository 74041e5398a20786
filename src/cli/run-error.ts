/** The error of a command about a run or a schedule that does not exist, or cannot do what is asked. */

/** Thrown when the run or schedule asked for does not exist, or cannot do what is asked; exit code 1. */
export class RunError extends Error {
  override readonly name = 'RunError';
}
