/**
 * The official Storage Transfer Service client, pointed at a local emulator over gRPC or over REST, with the
 * options that work against a local server (no TLS, no credentials, no metadata-server probe).
 */
import { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import type * as GrpcJs from '@grpc/grpc-js';
import { PassThroughClient } from 'google-auth-library';
import { messageType } from '../../src/transfer-emulator/protos';

/** The two transports of the official client. */
export type Transport = 'grpc' | 'rest';

/** A client of the emulator at `port` over `transport`. */
export function transferClient(transport: Transport, port: number): StorageTransferServiceClient {
  if (transport === 'rest') {
    return new StorageTransferServiceClient({
      apiEndpoint: '127.0.0.1',
      port,
      fallback: true,
      protocol: 'http',
      // The client's own copy of google-auth-library types this differently; the object is the same class.
      authClient: new PassThroughClient() as unknown as never,
    });
  }
  // The channel credentials must come from the grpc-js copy that the client's google-gax loads.
  const gaxGrpc = require.resolve('@grpc/grpc-js', { paths: [require.resolve('google-gax')] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require(gaxGrpc) as typeof GrpcJs;
  return new StorageTransferServiceClient({
    apiEndpoint: '127.0.0.1',
    port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
}

/** What the tests read of a TransferOperation. */
export interface Metadata {
  status?: unknown;
  counters?: Record<string, unknown>;
  errorBreakdowns?: {
    errorCode?: unknown;
    errorCount?: unknown;
    errorLogEntries?: { url?: string; errorDetails?: string[] }[];
  }[];
  transferJobName?: string;
  startTime?: unknown;
  endTime?: unknown;
}

/** An operation's state now: done or not, its metadata decoded from the Any, and its error if it failed. */
export async function readOperation(
  client: StorageTransferServiceClient,
  name: string,
): Promise<{ done: boolean; metadata: Metadata; error?: { code?: number; message?: string } }> {
  const [operation] = await client.operationsClient.getOperation({ name } as never, { timeout: 5000, retry: null });
  const any = operation.metadata as { value?: Uint8Array };
  const type = messageType('google.storagetransfer.v1.TransferOperation');
  const metadata = type.toObject(type.decode(any.value ?? new Uint8Array()), { enums: String, longs: String });
  return {
    done: Boolean(operation.done),
    metadata: metadata as Metadata,
    error: (operation.error ?? undefined) as { code?: number; message?: string } | undefined,
  };
}

/**
 * Polls an operation until it is done; its metadata is decoded from the Any even when the operation failed
 * (google-gax gives no metadata then).
 */
export async function waitDone(
  client: StorageTransferServiceClient,
  name: string,
  timeoutMs = 30_000,
): Promise<{ metadata: Metadata; error?: { code?: number; message?: string } }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await readOperation(client, name);
    if (current.done) return current;
    if (Date.now() > deadline) throw new Error(`${name} did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A counter of an operation, as a number. */
export const counter = (metadata: Metadata, key: string) => Number(metadata.counters?.[key] ?? 0);

/** An operation's status name. */
export const status = (metadata: Metadata) => String(metadata.status);
