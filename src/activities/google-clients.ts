/**
 * The Google clients the activities share: one Cloud Storage client and one Storage Transfer Service client
 * per worker, made on first use (the libraries take a while to load) and closed with the worker.
 */
import type { Storage } from '@google-cloud/storage';
import type { StorageTransferServiceClient } from '@google-cloud/storage-transfer';
import { storageFor, transferClientFor, type GoogleConfig } from '../google';

/** The clients, made when first asked for. */
export class GoogleClients {
  private storageClient: Storage | undefined;
  private transferClient: StorageTransferServiceClient | undefined;

  constructor(readonly config: GoogleConfig) {}

  get storage(): Storage {
    this.storageClient ??= storageFor(this.config);
    return this.storageClient;
  }

  get transfer(): StorageTransferServiceClient {
    this.transferClient ??= transferClientFor(this.config);
    return this.transferClient;
  }

  /** Closes the transfer client's channel, if one was opened. */
  async close(): Promise<void> {
    await this.transferClient?.close();
    this.transferClient = undefined;
  }
}
