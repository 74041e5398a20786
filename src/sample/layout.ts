/**
 * Where the local sample lives on disk. The generator writes this layout and the origin serves it, so that
 * the local source has the same shape as the real ones:
 *
 * ```
 * <root>/manifest.json                                   every file's size, MD5, CRC32C (see SampleManifest)
 * <root>/datasets/marketplace/2019-Oct.csv.gz            served at /datasets/marketplace/2019-Oct.csv.gz (REES46)
 * <root>/datasets/marketplace/2019-Oct.csv               served at /datasets/marketplace/2019-Oct.csv
 * <root>/kaggle/<owner>/<slug>/dataset.json              the Kaggle dataset's metadata (see KaggleDatasetRecord)
 * <root>/kaggle/<owner>/<slug>/<version>/2019-Oct.csv.zip  a zip of one CSV, as Kaggle's downloads are
 * ```
 */
import path from 'node:path';

/** The Kaggle owner of the published dataset. */
export const KAGGLE_OWNER = 'mkechinov';
/** The Kaggle slug of the published dataset. */
export const KAGGLE_SLUG = 'ecommerce-behavior-data-from-multi-category-store';
/** The Kaggle version the presets name. */
export const KAGGLE_VERSION = 8;

/** The URL path under which REES46 publishes the monthly files, and the origin serves the sample. */
export const MARKETPLACE_PATH = '/datasets/marketplace';

/** One generated file, as the manifest records it. */
export interface SampleFile {
  /** Path relative to the sample root, with forward slashes (`datasets/marketplace/2019-Oct.csv.gz`). */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** MD5 of the bytes, base64 of the 16 raw bytes (the form Cloud Storage and URL lists use). */
  md5: string;
  /** CRC32C of the bytes, base64 of the 4 big-endian bytes (the form Cloud Storage uses). */
  crc32c: string;
  /** Data rows of the CSV inside (header excluded). */
  rows: number;
}

/** `<root>/manifest.json`: what was generated, and how, so that a run with the same settings is skipped. */
export interface SampleManifest {
  /** The generator's seed. */
  seed: number;
  /** Target bytes of each month's uncompressed CSV. */
  bytesPerMonth: number;
  /** The months generated, by file stem (`2019-Oct`). */
  months: string[];
  /** When the sample was generated (ISO 8601). */
  generatedAt: string;
  files: SampleFile[];
}

/** `<root>/kaggle/<owner>/<slug>/dataset.json`: what the Kaggle API of the origin answers about the dataset. */
export interface KaggleDatasetRecord {
  ownerSlug: string;
  datasetSlug: string;
  title: string;
  licenseName: string;
  currentVersionNumber: number;
  /** ISO 8601. */
  lastUpdated: string;
  versions: { versionNumber: number; creationDate: string; versionNotes: string }[];
  /** The files of the current version: `totalBytes` is the uncompressed CSV size, `zip` the file to serve. */
  files: { name: string; totalBytes: number; creationDate: string; zip: string }[];
}

/** The manifest's path under a sample root. */
export function manifestPath(root: string): string {
  return path.join(root, 'manifest.json');
}

/** The folder of a Kaggle dataset under a sample root. */
export function kaggleDatasetDir(root: string, owner: string, slug: string): string {
  return path.join(root, 'kaggle', owner, slug);
}
