/**
 * The activities of a collection, one module per step, made with the worker's settings. Workflows import
 * this module only for its types (`proxyActivities<Activities>`).
 */
import { makeAccessSource, type AccessSourceSettings } from './access-source';

/** The settings every activity is made with. */
export type ActivitySettings = AccessSourceSettings;

/** Makes the activities a worker serves. */
export function createActivities(settings: ActivitySettings) {
  return {
    accessSource: makeAccessSource(settings),
  };
}

/** The activities, as workflows see them. */
export type Activities = ReturnType<typeof createActivities>;
