/**
 * The Storage Transfer Service emulator: one core (the service's semantics and its durable state) behind two
 * fronts, gRPC and REST, as fake-gcs-server puts its HTTP and gRPC fronts over one backend.
 *
 * What it covers so far: GetGoogleServiceAccount, the transfer job methods (create, get, update, list,
 * delete), runs of jobs that really copy HTTP URLs into the bucket, and the operation methods (get, list,
 * cancel, pause, resume). Every other method answers UNIMPLEMENTED with its name.
 */
import type http from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { Storage } from '@google-cloud/storage';
import { FaultTable } from './core/faults';
import { Operations } from './core/operations';
import { serviceAgent, TransferService } from './core/service';
import { StateStore } from './core/store';
import { startGrpcFront } from './grpc';
import { startRestFront } from './rest';

/** How to start the emulator. */
export interface EmulatorOptions {
  /** Where jobs are kept across restarts; in memory only when absent. */
  stateFile?: string;
  /** The address both fronts bind. Default `127.0.0.1`. */
  host?: string;
  /** The gRPC port; 0 picks a free one. */
  grpcPort?: number;
  /** The REST port; 0 picks a free one. */
  restPort?: number;
  /** The Cloud Storage API that transfers write to (the storage emulator locally). */
  storage: Storage;
  /** Objects copied at once by one operation. Default 4. */
  concurrency?: number;
}

/** A running emulator. */
export interface Emulator {
  grpcPort: number;
  restPort: number;
  /** The faults in force, also at `http://<host>:<restPort>/emulator/v1/faults`. */
  faults: FaultTable;
  /** Stops both fronts, ending open calls. */
  close(): Promise<void>;
}

/** Starts the emulator. */
export async function startTransferEmulator(options: EmulatorOptions): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  const store = new StateStore(options.stateFile);
  const faults = new FaultTable();
  const operations = new Operations(store, {
    storage: options.storage,
    faults,
    serviceAgent: (projectId) => serviceAgent(projectId).accountEmail,
    concurrency: options.concurrency ?? 4,
    fetchAttempts: 5,
  });
  const core = new TransferService(store, operations, faults);
  const facade = core as unknown as Record<string, unknown>;
  const grpcFront = await startGrpcFront(facade, host, options.grpcPort ?? 0);
  let restFront: { server: http.Server; port: number };
  try {
    restFront = await startRestFront(facade, faults, host, options.restPort ?? 0);
  } catch (error) {
    grpcFront.server.forceShutdown();
    throw error;
  }
  return {
    grpcPort: grpcFront.port,
    restPort: restFront.port,
    faults,
    async close() {
      await operations.close();
      await closeGrpc(grpcFront.server);
      restFront.server.closeAllConnections();
      await new Promise((resolve) => restFront.server.close(resolve));
    },
  };
}

function closeGrpc(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    server.forceShutdown();
    resolve();
  });
}
