/**
 * Reading the bytes of an input: a local file, or a Cloud Storage object named `gs://bucket/object`. Each is
 * opened as a whole stream, or as a byte range that a worker thread reads on its own (a positioned read of the
 * file, or a ranged download of the object), never held whole in memory. The worker threads load this module,
 * so it keeps to what reading needs.
 *
 * Cloud Storage is reached with the official client, which honours `STORAGE_EMULATOR_HOST`, so the same
 * code reads the local emulator and the real service.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type * as StorageModule from '@google-cloud/storage';
import type { Storage } from '@google-cloud/storage';
import type { ByteSource } from './types';

/** Bytes read at a time from a local file. */
export const READ_BYTES = 1024 * 1024;

/** Options of the Cloud Storage client; by default the library's own (and `STORAGE_EMULATOR_HOST`). */
export interface StorageOptions {
  apiEndpoint?: string;
  projectId?: string;
}

/** A Cloud Storage client, loaded when first needed: the library takes a while to load. */
export function storageClient(options: StorageOptions = {}): Storage {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, see above
  const { Storage: StorageClass } = require('@google-cloud/storage') as typeof StorageModule;
  // The client takes STORAGE_EMULATOR_HOST as its JSON API base URL as is, without the /storage/v1 path that
  // fake-gcs-server (and Cloud Storage) serve the API under: given as an endpoint instead, with the variable
  // hidden while the client is made (it reads it only then), the same address works.
  const emulator = process.env.STORAGE_EMULATOR_HOST;
  const apiEndpoint = options.apiEndpoint ?? emulator?.replace(/\/+(storage\/v1\/?)?$/, '');
  delete process.env.STORAGE_EMULATOR_HOST;
  try {
    return new StorageClass({
      ...(apiEndpoint ? { apiEndpoint } : {}),
      ...(options.projectId ? { projectId: options.projectId } : {}),
    });
  } finally {
    if (emulator !== undefined) process.env.STORAGE_EMULATOR_HOST = emulator;
  }
}

/** `length` bytes of the input from `position`, all within it. */
export async function readAt(source: ByteSource, position: number, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readRange(source, position, position + length)) {
    chunks.push(Buffer.from(chunk)); // a copy: a file's chunks share one buffer
  }
  return Buffer.concat(chunks);
}

/** The whole input as a stream of chunks. */
export function openStream(source: ByteSource): Readable {
  if (source.kind === 'file') return fs.createReadStream(source.path, { highWaterMark: READ_BYTES });
  // the client's own validation would hash every byte a second time, in JavaScript
  return storageClient(source).bucket(source.bucket).file(source.object).createReadStream({ validation: false });
}

/**
 * The bytes `[start, end)` of the input, in order, in chunks. A local file is read synchronously into one
 * reused buffer: a worker thread has nothing else to do meanwhile, and the caller consumes each chunk before
 * asking for the next.
 */
export async function* readRange(source: ByteSource, start: number, end: number): AsyncGenerator<Buffer> {
  if (start >= end) return;
  if (source.kind === 'file') {
    const fd = fs.openSync(source.path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, end - start));
      for (let position = start; position < end;) {
        const read = fs.readSync(fd, buffer, 0, Math.min(buffer.length, end - position), position);
        if (read === 0) {
          throw new Error(`${source.path} ended at ${position} bytes, before ${end}: it changed while read`);
        }
        position += read;
        yield buffer.subarray(0, read);
      }
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  const stream = storageClient(source)
    .bucket(source.bucket)
    .file(source.object)
    .createReadStream({ start, end: end - 1, validation: false });
  let received = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    received += chunk.length;
    yield chunk;
  }
  if (received !== end - start) {
    throw new Error(`gs://${source.bucket}/${source.object}: got ${received} bytes of the range ${start}-${end - 1}`);
  }
}
