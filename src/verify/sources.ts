/**
 * The inputs the verifier reads, as the main thread looks them up: a local file (a plain CSV, a gzip, or a zip
 * of one CSV) or a Cloud Storage object named `gs://bucket/object`; its size, packaging, a zip's central
 * directory, and the checksums the store reports. Reading the bytes is `./reading.ts`'s, which the worker
 * threads load without this module's dependencies.
 */
import fs from 'node:fs';
import { checkBucketName } from '../config';
import { InputError } from '../collection';
import type { ByteSource, Packaging } from './types';
import { readAt, type StorageOptions, storageClient } from './reading';
import { hasZipMagic, localHeaderMethod, readZipLayout, ZipProblem, type ZipLayout } from './zip';

export { openStream, type StorageOptions } from './reading';

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
