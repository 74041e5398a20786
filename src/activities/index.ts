/**
 * The activities of a collection, one module per step, made with the worker's settings. Workflows import
 * this module only for its types (`proxyActivities<Activities>`).
 */
import type { GoogleConfig } from '../google';
import { makeAccessSource, type AccessSourceSettings } from './access-source';
import { makeTransferPolling } from './await-transfer';
import { makeCheckFile } from './check-file';
import { GoogleClients } from './google-clients';
import { makeLaunchTransfer } from './launch-transfer';
import { makeNotify, type NotifySettings } from './notify';
import { makePlanCollection } from './plan-collection';
import { makePreflight } from './preflight';
import { makeWriteDocumentation } from './write-documentation';

/** The settings every activity is made with. */
export interface ActivitySettings extends AccessSourceSettings {
  /** Where the Google APIs are (Google Cloud, or the local emulators). */
  google: GoogleConfig;
  /** Threads of the verifier in each integrity check; all cores by default. */
  verifyThreads?: number;
  /** Where alerts go and the Web UI they link to. */
  alerting: NotifySettings;
}

/** Makes the activities a worker serves, and the clients they share (the caller closes them). */
export function createActivities(settings: ActivitySettings, clients = new GoogleClients(settings.google)) {
  const polling = makeTransferPolling(clients, settings.requestTimeoutMs);
  const notify = makeNotify(settings.alerting);
  return {
    accessSource: makeAccessSource(settings),
    preflight: makePreflight(clients, settings.requestTimeoutMs),
    planIncremental: makePlanCollection(clients),
    launchTransfer: makeLaunchTransfer(clients, settings),
    awaitTransfer: polling.awaitTransfer,
    cancelTransfer: polling.cancelTransfer,
    checkFile: makeCheckFile(clients, settings.verifyThreads),
    writeDocumentation: makeWriteDocumentation(clients),
    notifyOutcome: notify.notifyOutcome,
    checkHealth: notify.checkHealth,
  };
}

/** The activities, as workflows see them. */
export type Activities = ReturnType<typeof createActivities>;
