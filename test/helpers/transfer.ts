/**
 * The official Storage Transfer Service client, pointed at a local emulator over gRPC or over REST, with the
 * options that work against a local server (no TLS, no credentials, no metadata-server probe).
 */
import { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import type * as GrpcJs from '@grpc/grpc-js';
import { PassThroughClient } from 'google-auth-library';

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
