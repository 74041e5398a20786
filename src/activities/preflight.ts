/**
 * Step 2 of a collection, preflight: before any transfer job exists, makes sure the copy can succeed.
 *
 * - The sink bucket exists, and we can write to it (a small object is written under the collection's folder
 *   and removed again).
 * - The transfer service agent (`GetGoogleServiceAccount`, which also creates it on first call) holds on the
 *   bucket the permissions a transfer with `overwriteWhen: NEVER` needs. Against Google Cloud they are read
 *   from the bucket's IAM policy; the local emulators have no IAM, so locally they come from the transfer
 *   emulator's own setting. A missing grant, the most common cause of failed transfers, is a non-retryable
 *   failure that names the account, the permissions and the role to grant.
 */
import { log } from '@temporalio/activity';
import { failure } from '../failures';
import { callOptions, grpcCode, TRANSIENT_CODES, type GoogleConfig } from '../google';
import type { GoogleClients } from './google-clients';

/** What preflight checks. */
export interface PreflightInput {
  bucket: string;
  /** The collection's folder: the write check goes there. */
  folder: string;
}

/** What preflight found. */
export interface PreflightResult {
  target: GoogleConfig['target'];
  serviceAgent: string;
  /** The permissions checked, all held. */
  permissions: string[];
}

/**
 * The permissions the service agent needs on the sink bucket: to find the bucket, list what is there
 * (`overwriteWhen: NEVER` compares), and create objects. `roles/storage.legacyBucketWriter` grants them.
 */
export const REQUIRED_PERMISSIONS = ['storage.buckets.get', 'storage.objects.list', 'storage.objects.create'];

/** The role to grant, named in the failure. */
export const ROLE_TO_GRANT = 'roles/storage.legacyBucketWriter';

/** The predefined roles that grant bucket permissions, with the ones among {@link REQUIRED_PERMISSIONS} they hold. */
const ROLE_PERMISSIONS: Record<string, string[]> = {
  'roles/storage.admin': REQUIRED_PERMISSIONS,
  'roles/storage.legacyBucketOwner': REQUIRED_PERMISSIONS,
  'roles/storage.legacyBucketWriter': REQUIRED_PERMISSIONS,
  'roles/storage.legacyBucketReader': ['storage.buckets.get', 'storage.objects.list'],
  'roles/storage.objectAdmin': ['storage.objects.list', 'storage.objects.create'],
  'roles/storage.objectUser': ['storage.objects.list', 'storage.objects.create'],
  'roles/storage.objectCreator': ['storage.objects.create'],
  'roles/storage.objectViewer': ['storage.objects.list'],
};

/** Makes the activity. */
export function makePreflight(clients: GoogleClients, requestTimeoutMs: number) {
  return async function preflight(input: PreflightInput): Promise<PreflightResult> {
    const bucket = clients.storage.bucket(input.bucket);
    try {
      await bucket.getMetadata();
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) {
        throw failure('BucketNotFound', `bucket gs://${input.bucket} does not exist: create it, or name another`);
      }
      if (status === 401 || status === 403) {
        throw failure(
          'BucketNotWritable',
          `our credentials may not read bucket gs://${input.bucket}: ${message(error)}`,
        );
      }
      throw error;
    }
    const probe = bucket.file(`${input.folder}.write-check`);
    try {
      await probe.save('coleta preflight write check\n', { resumable: false, contentType: 'text/plain' });
    } catch (error) {
      const status = httpStatus(error);
      if (status === 401 || status === 403) {
        throw failure('BucketNotWritable', `our credentials may not write to gs://${input.bucket}: ${message(error)}`);
      }
      throw error;
    }
    await probe.delete({ ignoreNotFound: true }).catch((error: unknown) => {
      log.warn('the write check object could not be removed', { object: probe.name, error: message(error) });
    });

    const { projectId } = clients.config;
    let serviceAgent: string;
    try {
      const [account] = await clients.transfer.getGoogleServiceAccount({ projectId }, callOptions(requestTimeoutMs));
      serviceAgent = account.accountEmail ?? '';
    } catch (error) {
      const code = grpcCode(error);
      if (code && TRANSIENT_CODES.has(code)) {
        throw failure('TransferServiceUnavailable', `GetGoogleServiceAccount: ${message(error)}`);
      }
      throw failure('TransferRefused', `the transfer service agent of project ${projectId}: ${message(error)}`);
    }

    const held = await agentPermissions(clients, input.bucket, serviceAgent, requestTimeoutMs);
    const missing = REQUIRED_PERMISSIONS.filter((permission) => !held.has(permission));
    if (missing.length > 0) {
      throw failure(
        'ServiceAgentLacksPermission',
        `the transfer service agent ${serviceAgent} lacks ${missing.join(', ')} on gs://${input.bucket}; ` +
          `grant it ${ROLE_TO_GRANT}: gcloud storage buckets add-iam-policy-binding gs://${input.bucket} ` +
          `--member=serviceAccount:${serviceAgent} --role=${ROLE_TO_GRANT}`,
        { serviceAgent, bucket: input.bucket, missing, role: ROLE_TO_GRANT },
      );
    }
    log.info('preflight passed', { bucket: input.bucket, serviceAgent, target: clients.config.target });
    return { target: clients.config.target, serviceAgent, permissions: REQUIRED_PERMISSIONS };
  };
}

/** The permissions among the required ones that the service agent holds on the bucket. */
async function agentPermissions(
  clients: GoogleClients,
  bucketName: string,
  serviceAgent: string,
  timeoutMs: number,
): Promise<Set<string>> {
  const source = clients.config.agentPermissions;
  if (source.from === 'emulator') {
    // The emulator's setting: the permissions it is told the agent lacks, by bucket.
    const response = await fetch(source.url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`${source.url} answered HTTP ${response.status}`);
    const settings = (await response.json()) as { missingPermissions?: Record<string, string[]> };
    const lacking = new Set(settings.missingPermissions?.[bucketName] ?? []);
    return new Set(REQUIRED_PERMISSIONS.filter((permission) => !lacking.has(permission)));
  }
  // The bucket's IAM policy: the roles bound to the agent, without conditions (a conditional grant may not
  // apply to a transfer, so it is not counted).
  const [policy] = await clients.storage.bucket(bucketName).iam.getPolicy({ requestedPolicyVersion: 3 });
  const member = `serviceAccount:${serviceAgent}`;
  const held = new Set<string>();
  for (const binding of policy.bindings ?? []) {
    if (binding.condition || !(binding.members ?? []).includes(member)) continue;
    for (const permission of ROLE_PERMISSIONS[binding.role] ?? []) held.add(permission);
  }
  return held;
}

function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
