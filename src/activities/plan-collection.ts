/**
 * Before the transfer, for an incremental run: reads the dataset's pointer (`current.json`, see
 * `../incremental.ts`) and compares the source manifest with it, so that the run transfers only what is new
 * or changed. A dataset's first collection has no pointer, and copies everything.
 */
import { log } from '@temporalio/activity';
import { failure } from '../failures';
import {
  CURRENT_VERSION,
  currentPointer,
  planCollection,
  type CollectionPlan,
  type CurrentState,
} from '../incremental';
import type { SourceManifest } from '../source/types';
import type { GoogleClients } from './google-clients';

/** What the plan needs. */
export interface PlanInput {
  manifest: SourceManifest;
  bucket: string;
  prefix: string;
  /** Copy every file whatever the pointer says (`coleta collect --full`); an unreadable pointer is then replaced. */
  full?: boolean;
}

/** Makes the activity. */
export function makePlanCollection(clients: GoogleClients) {
  return async function planIncremental(input: PlanInput): Promise<CollectionPlan> {
    const name = currentPointer(input.prefix, input.manifest.datasetId);
    const pointer = `gs://${input.bucket}/${name}`;
    const file = clients.storage.bucket(input.bucket).file(name);
    let generation: number;
    let text: string;
    try {
      // the generation first: the pointer's next write is conditional on it, so a change in between is caught
      const [metadata] = await file.getMetadata();
      generation = Number(metadata.generation);
      text = (await file.download())[0].toString('utf8');
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
      log.info('no current copy yet: every file is new', { pointer });
      return planCollection(input.manifest, undefined, pointer, 0);
    }
    let state: CurrentState;
    try {
      state = parseCurrent(text);
    } catch (error) {
      if (input.full) {
        log.warn('the pointer is unreadable, and is replaced by this full collection', { pointer });
        return planCollection(input.manifest, undefined, pointer, generation);
      }
      throw failure(
        'CurrentUnreadable',
        `${pointer} is not a pointer this version can read (${(error as Error).message}); ` +
          'nothing was transferred: inspect it, or collect with --full to copy every file and replace it',
      );
    }
    const plan = planCollection(input.manifest, state, pointer, generation);
    if (input.full) {
      // everything is copied again; the comparison stays in the record for what it tells
      plan.files = plan.files.map((entry) => ({
        ...entry,
        change: entry.change === 'unchanged' ? 'changed' : entry.change,
        why: entry.change === 'unchanged' ? `${entry.why}; copied again (--full)` : entry.why,
      }));
    }
    log.info('compared with the current copies', {
      pointer,
      previous: state.collectionId,
      changed: plan.files.filter((entry) => entry.change !== 'unchanged').length,
      unchanged: plan.files.filter((entry) => entry.change === 'unchanged').length,
    });
    return plan;
  };
}

/** Parses `current.json`, refusing what does not have its shape. */
export function parseCurrent(text: string): CurrentState {
  const state = JSON.parse(text) as Partial<CurrentState>;
  if (state.currentVersion !== CURRENT_VERSION) {
    throw new Error(`currentVersion is ${JSON.stringify(state.currentVersion)}, not ${CURRENT_VERSION}`);
  }
  if (typeof state.collectionId !== 'string' || !Array.isArray(state.files)) {
    throw new Error('it lacks collectionId or files');
  }
  for (const file of state.files) {
    if (typeof file?.name !== 'string' || typeof file.object !== 'string' || typeof file.size !== 'number') {
      throw new Error('a file entry lacks name, object or size');
    }
  }
  return state as CurrentState;
}
