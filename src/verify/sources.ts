/**
 * The inputs the verifier reads: a local file (a plain CSV, a gzip, or a zip of one CSV) or a Cloud Storage
 * object named `gs://bucket/object`. Each is opened as a whole stream, or as a byte range that a worker thread
 * reads on its own (a positioned read of the file, or a ranged download of the object), never held whole in
 * memory.
 *
 * Cloud Storage is reached with the official client, which honours `STORAGE_EMULATOR_HOST`, so the same
 * code reads the local emulator and the real service.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type * as StorageModule from '@google-cloud/storage';
import type { Storage } from '@google-cloud/storage';
import { checkBucketName } from '../config';
import { InputError } from '../collection';
import type { ByteSource, Packaging } from './types';
import { hasZipMagic, localHeaderMethod, readZipLayout, ZipProblem, type ZipLayout } from './zip';

/** Bytes read at a time from a local file. */
export const READ_BYTES = 1024 * 1024;

/** What a target names, checked. */
export type Target = { kind: 'file'; path: string } | { kind: 'gs'; bucket: string; object: string };

/** What is known about an input before reading it. */
export interface InputInfo {
  source: ByteSource;
  size: number;
  packaging: Packaging;
  /**
   * For a zip: its central directory, or what keeps it from being read (a sentence for the report) with the
   * compression method of the first local header, when there is one to read from.
   */
  zip?: ZipLayout | { problem: string; method?: number };
  /** Checksums the store reports (Cloud Storage's object metadata), base64. */
  stored: { crc32c?: string; md5?: string };
}

/** Parses `path` or `gs://bucket/object`; throws an {@link InputError} for a malformed URL. */
export function parseTarget(target: string): Target {
  if (!target.startsWith('gs://')) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      throw new InputError(`"${target}" is neither a local path nor a gs://bucket/object URL`);
    }
    return { kind: 'file', path: target };
  }
  const rest = target.slice('gs://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const object = slash < 0 ? '' : rest.slice(slash + 1);
  const problem = checkBucketName(bucket);
  if (problem) throw new InputError(`"${target}": ${problem}`);
  if (object === '') throw new InputError(`"${target}" names no object: give gs://bucket/object`);
  return { kind: 'gs', bucket, object };
}

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

/**
 * Looks the input up: size, packaging, a zip's central directory, stored checksums. Throws an
 * {@link InputError} when it is missing.
 */
export async function inspect(target: Target, storage: StorageOptions = {}): Promise<InputInfo> {
  let source: ByteSource;
  let size: number;
  let named: Packaging = 'none';
  const stored: InputInfo['stored'] = {};
  if (target.kind === 'file') {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(target.path);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new InputError(`${target.path}: ${missing ? 'no such file' : (error as Error).message}`);
    }
    if (!stat.isFile()) throw new InputError(`${target.path}: not a regular file`);
    source = { kind: 'file', path: target.path };
    size = stat.size;
  } else {
    const file = storageClient(storage).bucket(target.bucket).file(target.object);
    let metadata;
    try {
      [metadata] = await file.getMetadata();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === 404) throw new InputError(`gs://${target.bucket}/${target.object}: no such object`);
      throw error;
    }
    if (metadata.crc32c) stored.crc32c = metadata.crc32c;
    if (metadata.md5Hash) stored.md5 = metadata.md5Hash;
    source = { kind: 'gs', bucket: target.bucket, object: target.object, ...storage };
    size = Number(metadata.size ?? 0);
    const type = metadata.contentType ?? '';
    if (target.object.endsWith('.gz') || type === 'application/gzip') named = 'gzip';
    if (target.object.endsWith('.zip') || /^application\/(x-)?zip(-compressed)?$/.test(type)) named = 'zip';
  }

  // the first bytes tell; an object's name or type, when they do not (a damaged gzip or zip is then reported)
  const read = (position: number, length: number) =>
    readAt(source, position, Math.max(0, Math.min(length, size - position)));
  const magic = await read(0, 4);
  const packaging: Packaging = magic[0] === 0x1f && magic[1] === 0x8b ? 'gzip' : hasZipMagic(magic) ? 'zip' : named;
  const info: InputInfo = { source, size, packaging, stored };
  if (packaging === 'zip') {
    try {
      info.zip = await readZipLayout(read, size);
    } catch (error) {
      if (!(error instanceof ZipProblem)) throw error;
      const method = localHeaderMethod(await read(0, 30));
      info.zip = method === undefined ? { problem: error.message } : { problem: error.message, method };
    }
  }
  return info;
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
