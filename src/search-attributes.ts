/**
 * The search attributes that let operators filter collections in the Web UI and with `coleta list`. They
 * must be registered on the server: the local stack does so when it starts the dev server; a real cluster
 * needs `temporal operator search-attribute create` once (see the README).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The dataset a run collects, such as `ecommerce-behavior`. */
export const DATASET_ID = defineSearchAttributeKey('DatasetId', SearchAttributeType.KEYWORD);

/** The step a run is in: see {@link Phase}. */
export const COLLECTION_PHASE = defineSearchAttributeKey('CollectionPhase', SearchAttributeType.KEYWORD);

/** How a run ended, or `running`. */
export const COLLECTION_OUTCOME = defineSearchAttributeKey('CollectionOutcome', SearchAttributeType.KEYWORD);

/** Every search attribute of the project with its type, as the dev server's `--search-attribute` takes them. */
export const SEARCH_ATTRIBUTES = [DATASET_ID, COLLECTION_PHASE, COLLECTION_OUTCOME].map((key) => ({
  name: key.name,
  type: 'Keyword' as const,
}));
