/**
 * `/_admin/faults`: the fault table over HTTP, for tests and operators that drive the origin from another
 * process. GET lists the faults, POST `{ path, ...fault }` sets one, DELETE removes them all.
 */
import { type Exchange, readBody, sendJson } from './exchange';
import { FaultError, type FaultTable, parseFault, parseFaultPath } from './faults';

/** The path of the admin endpoint; faults never apply to it, so a fault can always be cleared. */
export const ADMIN_FAULTS_PATH = '/_admin/faults';

const MAX_BODY_BYTES = 64 * 1024;
const FAULT_FIELDS = new Set([
  'path',
  'status',
  'omitContentLength',
  'ignoreRange',
  'delayMs',
  'dropAfterBytes',
  'times',
]);

/** Answers a request to {@link ADMIN_FAULTS_PATH}. */
export async function handleFaultsAdmin(ex: Exchange, faults: FaultTable): Promise<void> {
  switch (ex.method) {
    case 'GET':
      sendJson(ex, 200, { faults: faults.list() });
      return;
    case 'DELETE':
      faults.clear();
      ex.res.writeHead(204);
      ex.res.end();
      return;
    case 'POST':
      break;
    default:
      sendJson(ex, 405, { error: 'method not allowed' }, { Allow: 'GET, POST, DELETE' });
      return;
  }

  const body = await readBody(ex.req, MAX_BODY_BYTES);
  if (body === null) {
    sendJson(ex, 413, { error: `body: larger than ${MAX_BODY_BYTES} bytes` });
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    sendJson(ex, 400, { error: 'body: not valid JSON', field: 'body' });
    return;
  }
  try {
    const fault = parseFault(value, FAULT_FIELDS);
    const path = parseFaultPath((value as { path?: unknown }).path);
    faults.set(path, fault);
    sendJson(ex, 201, { path, ...fault });
  } catch (error) {
    if (!(error instanceof FaultError)) throw error;
    sendJson(ex, 400, { error: error.message, field: error.field });
  }
}
