/**
 * Where the Google Cloud APIs are, and the clients that reach them: the official `@google-cloud/storage`
 * and `@google-cloud/storage-transfer` libraries, the same code against Google Cloud and against the local
 * emulators. The choice is made here, from the environment, and nowhere else:
 *
 * - With `GOOGLE_CLOUD_PROJECT` (or `GCLOUD_PROJECT`) set, the clients talk to Google Cloud with Application
 *   Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, or the metadata server), the service agent's
 *   permissions are read from the sink bucket's IAM policy, and the URL list is handed to the service as a
 *   V4 signed URL.
 * - Otherwise they talk to the local stack: the storage emulator (`STORAGE_EMULATOR_HOST`, default
 *   `http://127.0.0.1:4443`) and the transfer emulator (`COLETA_TRANSFER_ENDPOINT`, default
 *   `127.0.0.1:8091`, plain gRPC). The emulators have no IAM: the service agent's permissions come from the
 *   transfer emulator's own setting (its `/emulator/v1/faults` endpoint), and the URL list is read at the
 *   storage emulator's public object URL.
 */
import type * as StorageModule from '@google-cloud/storage';
import type { Storage } from '@google-cloud/storage';
import type * as TransferModule from '@google-cloud/storage-transfer';
import type { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import type * as GrpcJs from '@grpc/grpc-js';
import { z } from 'zod';

/** How the clients reach Google Cloud, or the emulators standing in for it. */
export interface GoogleConfig {
  /** `google` for Google Cloud, `local` for the emulators; said in logs and records. */
  target: 'google' | 'local';
  projectId: string;
  /** The Cloud Storage API base (`http://127.0.0.1:4443`); the library's own (Google's) when absent. */
  storageEndpoint?: string;
  /** The Storage Transfer Service over plain gRPC; Google's endpoint, with TLS, when absent. */
  transferEndpoint?: { host: string; port: number };
  /** Where the transfer service agent's permissions on the sink bucket are read. */
  agentPermissions: { from: 'bucket-iam' } | { from: 'emulator'; url: string };
  /** How the service gets to read the URL list: a V4 signed URL, or the object's plain URL at an endpoint. */
  listAccess: { kind: 'signed'; expiresSeconds: number } | { kind: 'public'; baseUrl: string };
}

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const schema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().optional(),
  GCLOUD_PROJECT: z.string().optional(),
  STORAGE_EMULATOR_HOST: z.url({ protocol: /^https?$/ }).optional(),
  COLETA_GCS_PORT: port(4443),
  COLETA_TRANSFER_ENDPOINT: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port')
    .optional(),
  COLETA_TRANSFER_GRPC_PORT: port(8091),
  COLETA_TRANSFER_REST_PORT: port(8092),
});

/** The schema's variables, for the configuration module to check with the others. */
export const googleSchema = schema;

/** Reads where the Google APIs are from already-validated variables. */
export function googleConfig(s: z.output<typeof schema>): GoogleConfig {
  const projectId = s.GOOGLE_CLOUD_PROJECT ?? s.GCLOUD_PROJECT;
  if (projectId) {
    return {
      target: 'google',
      projectId,
      agentPermissions: { from: 'bucket-iam' },
      // The service reads the list when a run starts; a week is the longest a V4 signature lives.
      listAccess: { kind: 'signed', expiresSeconds: 7 * 24 * 3600 },
    };
  }
  const storageEndpoint = (s.STORAGE_EMULATOR_HOST ?? `http://127.0.0.1:${s.COLETA_GCS_PORT}`).replace(
    /\/+(storage\/v1\/?)?$/,
    '',
  );
  const [host, transferPort] = (s.COLETA_TRANSFER_ENDPOINT ?? `127.0.0.1:${s.COLETA_TRANSFER_GRPC_PORT}`).split(':');
  return {
    target: 'local',
    projectId: 'coleta-local',
    storageEndpoint,
    transferEndpoint: { host: host as string, port: Number(transferPort) },
    agentPermissions: {
      from: 'emulator',
      url: `http://${host as string}:${s.COLETA_TRANSFER_REST_PORT}/emulator/v1/faults`,
    },
    listAccess: { kind: 'public', baseUrl: storageEndpoint },
  };
}

/** A Cloud Storage client for the configured target. The library is loaded when first needed. */
export function storageFor(config: GoogleConfig): Storage {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the library takes a while to load
  const { Storage: StorageClass } = require('@google-cloud/storage') as typeof StorageModule;
  // The library reads STORAGE_EMULATOR_HOST itself, as a base URL without the API path that the emulator
  // serves under; the endpoint given here (with the variable hidden while the client is made) works instead.
  const emulator = process.env.STORAGE_EMULATOR_HOST;
  delete process.env.STORAGE_EMULATOR_HOST;
  try {
    return new StorageClass({
      projectId: config.projectId,
      ...(config.storageEndpoint ? { apiEndpoint: config.storageEndpoint } : {}),
    });
  } finally {
    if (emulator !== undefined) process.env.STORAGE_EMULATOR_HOST = emulator;
  }
}

/** A Storage Transfer Service client for the configured target. */
export function transferClientFor(config: GoogleConfig): StorageTransferServiceClient {
  const { StorageTransferServiceClient: Client } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the library takes a while to load
    require('@google-cloud/storage-transfer') as typeof TransferModule;
  if (!config.transferEndpoint) return new Client({ projectId: config.projectId });
  // Plain gRPC to the emulator. The channel credentials must come from the grpc-js copy that the client's
  // own google-gax loads, and a universe domain keeps the client from probing the metadata server.
  const gaxGrpc = require.resolve('@grpc/grpc-js', { paths: [require.resolve('google-gax')] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require(gaxGrpc) as typeof GrpcJs;
  return new Client({
    apiEndpoint: config.transferEndpoint.host,
    port: config.transferEndpoint.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
    projectId: config.projectId,
  });
}

/**
 * The gRPC status of an error from either client, by name. Over REST, google-gax maps HTTP 409 to ABORTED and
 * 400 to INVALID_ARGUMENT, so ALREADY_EXISTS and FAILED_PRECONDITION may arrive under those names: callers
 * that care accept both.
 */
export function grpcCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? GRPC_CODE_NAMES[code] : undefined;
}

const GRPC_CODE_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

/** Codes that say "try again later": retried with backoff wherever the transfer service is called. */
export const TRANSIENT_CODES = new Set(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']);

/**
 * Options for one call of the transfer service: a deadline, and no retry by the client library (google-gax
 * retries some methods for up to 600 s by default, and reports what it gave up on as DEADLINE_EXCEEDED). The
 * activities retry with their own backoff, and record what they rode out.
 */
export function callOptions(timeoutMs: number) {
  return { timeout: timeoutMs, retry: { retryCodes: [] } } as { timeout: number };
}
