/**
 * Incremental collection: each dataset (under a sink prefix) has a pointer, `<prefix><dataset>/current.json`,
 * that names the copy of each source file that is current: the object it landed as, in which collection, with
 * the size, checksums and ETag the source published then. A run compares the source manifest with it and
 * transfers only the files that are new or changed; an unchanged file stays where an earlier collection put
 * it. Nothing is ever overwritten or deleted: a changed file lands beside its earlier copy, under the new
 * collection's folder, and the pointer moves to it.
 *
 * Pure functions and types, used by the workflow and the activities alike.
 */
import type { SourceFile, SourceManifest } from './source/types';

/** The version of the pointer's shape. */
export const CURRENT_VERSION = 1;

/** The pointer's object name for a dataset under a sink prefix. */
export function currentPointer(prefix: string, datasetId: string): string {
  return `${prefix}${datasetId}/current.json`;
}

/** The current copy of one source file. */
export interface CurrentFile {
  /** The file's name at the source. */
  name: string;
  url: string;
  /** Where the copy is: `gs://bucket/object`. */
  object: string;
  /** The collection that copied it. */
  collectionId: string;
  size: number;
  md5?: string;
  crc32c?: string;
  etag?: string;
  lastModified?: string;
}

/** `current.json`: which copy of each file is current, and which collection last moved the pointer. */
export interface CurrentState {
  currentVersion: number;
  datasetId: string;
  /** The collection that wrote this pointer, and its record. */
  collectionId: string;
  record: string;
  updatedAt: string;
  files: CurrentFile[];
}

/** How a file of the manifest compares with its current copy. */
export interface FileChange {
  name: string;
  change: 'new' | 'changed' | 'unchanged';
  /** In words: what differs, or what was compared. */
  why: string;
  /** The current copy, when there is one. */
  current?: CurrentFile;
}

/** What a run finds before it transfers anything. */
export interface CollectionPlan {
  /** The pointer's object, `gs://bucket/<prefix><dataset>/current.json`. */
  pointer: string;
  /** The pointer's generation when it was read, 0 when there was none: its next write is conditional on it. */
  generation: number;
  /** The collection that last moved the pointer. */
  previous?: { collectionId: string; record: string };
  /** One entry per file of the manifest, in its order. */
  files: FileChange[];
  /** Files the pointer names that the source no longer offers: their copies stay, but are no longer current. */
  removed: string[];
}

/**
 * Compares a file the source offers with its current copy. It is unchanged only when the size is the same and
 * every validator both sides have (MD5, CRC32C, ETag) is equal, and at least one of them was there to compare:
 * a size alone proves nothing, so such a file is copied again.
 */
export function compareFile(file: SourceFile, current: CurrentFile | undefined): Omit<FileChange, 'name'> {
  if (!current) return { change: 'new', why: 'not collected before' };
  const base = { current };
  if (file.size !== current.size) {
    return { ...base, change: 'changed', why: `size ${current.size} → ${file.size} bytes` };
  }
  const compared: string[] = [];
  for (const [label, now, then] of [
    ['MD5', file.md5, current.md5],
    ['CRC32C', file.crc32c, current.crc32c],
    ['ETag', file.etag, current.etag],
  ] as const) {
    if (now === undefined || then === undefined) continue;
    if (now !== then) return { ...base, change: 'changed', why: `${label} ${then} → ${now}` };
    compared.push(label);
  }
  if (compared.length === 0) {
    return { ...base, change: 'changed', why: 'only the size could be compared: copied again to be sure' };
  }
  return { ...base, change: 'unchanged', why: `same size, ${compared.join(', ')}` };
}

/** Compares a manifest with the pointer (absent for a dataset's first collection). */
export function planCollection(
  manifest: SourceManifest,
  state: CurrentState | undefined,
  pointer: string,
  generation: number,
): CollectionPlan {
  const byName = new Map((state?.files ?? []).map((file) => [file.name, file]));
  const offered = new Set(manifest.files.map((file) => file.name));
  return {
    pointer,
    generation,
    ...(state ? { previous: { collectionId: state.collectionId, record: state.record } } : {}),
    files: manifest.files.map((file) => ({ name: file.name, ...compareFile(file, byName.get(file.name)) })),
    removed: (state?.files ?? []).map((file) => file.name).filter((name) => !offered.has(name)),
  };
}

/**
 * The pointer after a successful collection: for each file of the manifest, the copy this collection made of
 * it (`copied` maps a file name to its object), or else its current copy from the plan.
 */
export function nextCurrent(
  manifest: SourceManifest,
  plan: CollectionPlan | undefined,
  copied: Map<string, string>,
  collection: { collectionId: string; record: string; at: string },
): CurrentState {
  const files = manifest.files.map((file, index): CurrentFile => {
    const object = copied.get(file.name);
    const earlier = plan?.files[index]?.current;
    if (object === undefined && earlier) return earlier;
    return {
      name: file.name,
      url: file.url,
      object: object ?? '',
      collectionId: collection.collectionId,
      size: file.size,
      ...(file.md5 ? { md5: file.md5 } : {}),
      ...(file.crc32c ? { crc32c: file.crc32c } : {}),
      ...(file.etag ? { etag: file.etag } : {}),
      ...(file.lastModified ? { lastModified: file.lastModified } : {}),
    };
  });
  return {
    currentVersion: CURRENT_VERSION,
    datasetId: manifest.datasetId,
    collectionId: collection.collectionId,
    record: collection.record,
    updatedAt: collection.at,
    files,
  };
}
