/**
 * The emulator's durable state: transfer jobs (deleted ones included, since their names stay taken) in one
 * JSON file, written whole to a temporary file and renamed over the old one, so a crash leaves either the
 * state before a change or the state after it. Without a file the state lives in memory only.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TransferJob } from './jobs';
import type { TransferOperation } from './operations';

/** What the state file holds. */
export interface State {
  version: 1;
  /** Jobs by name. */
  jobs: Record<string, TransferJob>;
  /** The last number used for a job name the service chose. */
  lastGeneratedJob: number;
  /** Operations by name. */
  operations: Record<string, TransferOperation>;
  /** How many times each job has run, for its operations' names. */
  runs: Record<string, number>;
}

/** Jobs (and, later, operations) kept across restarts. */
export class StateStore {
  readonly state: State;

  /** Loads the state from `file`, or starts empty when it does not exist yet. */
  constructor(private readonly file?: string) {
    this.state = file ? load(file) : empty();
  }

  /** Writes the state; call after each change. */
  save(): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const temporary = `${this.file}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(this.state));
    fs.renameSync(temporary, this.file);
  }
}

function empty(): State {
  return { version: 1, jobs: {}, lastGeneratedJob: 0, operations: {}, runs: {} };
}

function load(file: string): State {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return empty();
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<State>;
  if (parsed.version !== 1 || typeof parsed.jobs !== 'object' || parsed.jobs === null) {
    throw new Error(`${file} is not a state file of this emulator (version ${String(parsed.version)})`);
  }
  return { ...empty(), ...parsed } as State;
}
