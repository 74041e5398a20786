/**
 * Generates the local sample of the dataset: for each month a CSV, its gzip (as REES46 publishes it) and a zip
 * of it (as Kaggle serves it), the Kaggle dataset's metadata, and a manifest with every file's size, MD5 and
 * CRC32C, in the layout of `./layout.ts`. The same seed and options give byte-identical files.
 *
 * Files are streamed, never held whole. A worker thread synthesises each month's CSV chunk by chunk, writes it
 * and hands the chunks over (see `./synthesis.ts`). Here they are deflated once, in blocks on several threads
 * (see `./parallel-deflate.ts`), and that one deflate stream is framed twice as it comes: as the gzip (see
 * `./gzip.ts`) and as the zip's one entry (see `./zip.ts`). Checksums are computed as the bytes go by. Every
 * file is written under a `.partial` name and renamed once complete, and the manifest comes last, so an
 * interrupted run never leaves a file that looks finished; a later run with the same settings finds the
 * manifest and its files and returns at once.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { type DatasetMonth, MONTHS } from '../dataset/schema.js';
import { DigestedFile } from './digest.js';
import { gzipHeader, gzipTrailer } from './gzip.js';
import {
  KAGGLE_OWNER,
  KAGGLE_SLUG,
  KAGGLE_VERSION,
  type KaggleDatasetRecord,
  MARKETPLACE_PATH,
  type SampleFile,
  type SampleManifest,
  kaggleDatasetDir,
  manifestPath,
} from './layout.js';
import { ParallelDeflate } from './parallel-deflate.js';
import { type MonthEnd, RowSynthesis } from './synthesis.js';
import { OneEntryZip } from './zip.js';

export { parseByteSize } from './size.js';

/** The seed of the sample when none is given. */
export const DEFAULT_SEED = 46;
/** Target bytes of each month's CSV when none is given: small enough to generate in well under a second. */
export const DEFAULT_BYTES_PER_MONTH = 2 * 1024 * 1024;
/** The months generated when none are given: the two that Kaggle publishes. */
export const DEFAULT_MONTHS: readonly string[] = ['2019-Oct', '2019-Nov'];

/** What {@link generateSample} writes, and where. */
export interface SampleOptions {
  /** The sample's root folder; created if missing. */
  root: string;
  /** The seed: the same seed and options give byte-identical files. A non-negative safe integer; default 46. */
  seed?: number;
  /** Target bytes of each month's uncompressed CSV (a whole positive number); default 2 MiB. */
  bytesPerMonth?: number;
  /** The months to generate, by file stem (`2019-Oct`, any of `MONTHS`); default October and November 2019. */
  months?: string[];
  /** Called after each chunk with the CSV bytes written so far, over all months. */
  onProgress?: (bytes: number) => void;
}

/** Bytes of CSV synthesised at a time: large enough to amortise the per-chunk costs of messages. */
const CHUNK_BYTES = 256 * 1024;
/** How far the synthesis worker may run ahead of the deflate (8 MiB): enough to absorb a stall of either. */
const CHUNKS_AHEAD = 32;
/**
 * Deflate level of the one deflate stream both the gzip and the zip hold. Deflate is by far the slowest stage.
 * Measured on a 1 GiB month on this project's 2-core machine: level 1 deflates at about 65 MB/s a core to
 * 31 % of the size (as the published files are), zlib's default level 6 at 46 MB/s to 28 %.
 */
const DEFLATE_LEVEL = 1;
/**
 * The deflate's blocks: CSV bytes per block, and blocks deflated at a time (see `./parallel-deflate.ts`). Each
 * block starts from the previous one's last 32 KiB, so the stream is as small as a single-threaded one to a
 * few hundredths of a point. Measured on 512 MiB months on this project's 2-core machine, blocks of 1 to 4 MiB
 * and 2 to 4 at a time all run at 73 to 85 MB/s with both cores nearly busy; 1 MiB, 3 at a time was among the
 * fastest and holds the least memory, and leaves one of libuv's four threads free for the file writes.
 */
const BLOCK_BYTES = 1024 * 1024;
const PARALLEL_BLOCKS = 3;
/**
 * How far past its target a month's CSV may run, for the bound that decides whether the zip announces ZIP64
 * sizes (see `./zip.ts`). The CSV ends within a few rows of its target (see `./rows.ts`), far less than this,
 * and deflates to about a third of it, so its uncompressed size is the one that matters. A tight bound matters
 * too: an entry announced as ZIP64 that stays under 4 GiB is valid, but not to every streaming reader.
 */
const CSV_OVERSHOOT_BYTES = 1024 * 1024;

/**
 * Versions of the Kaggle dataset as the local origin describes them. The published dataset is at version
 * 8; the dates are plausible ones for a dataset first published in late 2019, not the real history.
 */
const KAGGLE_VERSIONS: KaggleDatasetRecord['versions'] = [
  { versionNumber: 1, creationDate: '2019-11-04T09:27:33.150Z', versionNotes: 'Initial release' },
  { versionNumber: 2, creationDate: '2019-11-08T12:14:05.407Z', versionNotes: 'Data update' },
  { versionNumber: 3, creationDate: '2019-11-19T07:51:48.920Z', versionNotes: 'Data update' },
  { versionNumber: 4, creationDate: '2019-12-02T16:03:22.517Z', versionNotes: 'Added 2019-Nov' },
  { versionNumber: 5, creationDate: '2019-12-09T10:45:10.233Z', versionNotes: 'Data update' },
  { versionNumber: 6, creationDate: '2019-12-16T08:22:57.611Z', versionNotes: 'Data update' },
  { versionNumber: 7, creationDate: '2020-01-14T13:38:41.004Z', versionNotes: 'Data update' },
  { versionNumber: 8, creationDate: '2020-02-03T11:09:26.782Z', versionNotes: 'Data update' },
];
const KAGGLE_TITLE = 'eCommerce behavior data from multi-category store';
const KAGGLE_LICENSE = 'Data files © Original Authors';
const CURRENT_VERSION = KAGGLE_VERSIONS[KAGGLE_VERSIONS.length - 1] as KaggleDatasetRecord['versions'][number];

/** The zip entry's time: the current version's (see `./zip.ts` for why it is read as UTC). */
const ZIP_MTIME = new Date(CURRENT_VERSION.creationDate);

/** Settings after validation, with defaults applied. */
interface Settings {
  root: string;
  seed: number;
  bytesPerMonth: number;
  months: DatasetMonth[];
  onProgress: ((bytes: number) => void) | undefined;
}

/**
 * Generates the local sample under `options.root` (see `./layout.ts` for what is written), or returns the
 * existing manifest at once when it was generated with the same seed, size and months and its files are all
 * there with their sizes.
 *
 * @throws RangeError for a bad option; errors of the file system as they come (no finished-looking file is
 *   left behind)
 */
export async function generateSample(options: SampleOptions): Promise<SampleManifest> {
  const settings = validate(options);

  const existing = await readExistingManifest(settings);
  if (existing) return existing;

  // a manifest that stays while files are replaced could describe a mix of old and new ones
  await rm(manifestPath(settings.root), { force: true });

  const synthesis = new RowSynthesis(settings.seed, CHUNK_BYTES, CHUNKS_AHEAD);
  const files: SampleFile[] = [];
  try {
    let bytesBefore = 0;
    for (const month of settings.months) {
      const written = await writeMonth(settings, synthesis, month, bytesBefore);
      files.push(...written);
      bytesBefore += written[0]?.bytes ?? 0;
    }
  } finally {
    await synthesis.close();
  }

  const csvFiles = files.filter((file) => file.path.endsWith('.csv'));
  await writeJson(path.join(kaggleDatasetDir(settings.root, KAGGLE_OWNER, KAGGLE_SLUG), 'dataset.json'), {
    ownerSlug: KAGGLE_OWNER,
    datasetSlug: KAGGLE_SLUG,
    title: KAGGLE_TITLE,
    licenseName: KAGGLE_LICENSE,
    currentVersionNumber: CURRENT_VERSION.versionNumber,
    lastUpdated: CURRENT_VERSION.creationDate,
    versions: KAGGLE_VERSIONS,
    files: csvFiles.map((file) => ({
      name: path.posix.basename(file.path),
      totalBytes: file.bytes,
      creationDate: CURRENT_VERSION.creationDate,
      zip: `${path.posix.basename(file.path)}.zip`,
    })),
  } satisfies KaggleDatasetRecord);

  const manifest: SampleManifest = {
    seed: settings.seed,
    bytesPerMonth: settings.bytesPerMonth,
    months: settings.months.map((month) => month.name),
    generatedAt: new Date().toISOString(),
    files,
  };
  await writeJson(manifestPath(settings.root), manifest);
  return manifest;
}

function validate(options: SampleOptions): Settings {
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer: ${seed}`);
  const bytesPerMonth = options.bytesPerMonth ?? DEFAULT_BYTES_PER_MONTH;
  if (!Number.isSafeInteger(bytesPerMonth) || bytesPerMonth < 1) {
    throw new RangeError(`bytesPerMonth must be a positive integer: ${bytesPerMonth}`);
  }
  const names = options.months ?? DEFAULT_MONTHS;
  if (names.length === 0) throw new RangeError('months must name at least one month');
  if (new Set(names).size !== names.length) throw new RangeError(`months are repeated: ${names.join(', ')}`);
  const months = names.map((name) => {
    const month = MONTHS.find((candidate) => candidate.name === name);
    if (!month) {
      throw new RangeError(`unknown month ${JSON.stringify(name)} (known: ${MONTHS.map((m) => m.name).join(', ')})`);
    }
    return month;
  });
  return { root: options.root, seed, bytesPerMonth, months, onProgress: options.onProgress };
}

/** A month's three files, relative to the root with forward slashes, as the manifest names them. */
function monthFiles(month: string): { csv: string; gzip: string; zip: string } {
  const marketplace = MARKETPLACE_PATH.replace(/^\//, '');
  return {
    csv: `${marketplace}/${month}.csv`,
    gzip: `${marketplace}/${month}.csv.gz`,
    zip: `kaggle/${KAGGLE_OWNER}/${KAGGLE_SLUG}/${KAGGLE_VERSION}/${month}.csv.zip`,
  };
}

function onDisk(root: string, relative: string): string {
  return path.join(root, ...relative.split('/'));
}

function partial(file: string): string {
  return `${file}.partial`;
}

/**
 * Writes one month's CSV, gzip and zip from one pass of synthesis and one deflate, and returns their manifest
 * entries in that order.
 */
async function writeMonth(
  settings: Settings,
  synthesis: RowSynthesis,
  month: DatasetMonth,
  bytesBefore: number,
): Promise<SampleFile[]> {
  const names = monthFiles(month.name);
  const targets = [names.csv, names.gzip, names.zip].map((name) => onDisk(settings.root, name));
  const partials = targets.map(partial);
  const [csvPath, gzipPath, zipPath] = partials as [string, string, string];
  await Promise.all(targets.map((target) => mkdir(path.dirname(target), { recursive: true })));

  const zip = new OneEntryZip({
    name: `${month.name}.csv`,
    modified: ZIP_MTIME,
    mode: 0o100644,
    maxBytes: settings.bytesPerMonth + CSV_OVERSHOOT_BYTES,
  });
  const opened: DigestedFile[] = [];
  try {
    const gzipFile = await DigestedFile.create(gzipPath);
    opened.push(gzipFile);
    const zipFile = await DigestedFile.create(zipPath);
    opened.push(zipFile);
    await gzipFile.write(gzipHeader());
    await zipFile.write(zip.header());
    const deflate = new ParallelDeflate({
      level: DEFLATE_LEVEL,
      blockBytes: BLOCK_BYTES,
      parallel: PARALLEL_BLOCKS,
      sink: async (data) => {
        await Promise.all([gzipFile.write(data), zipFile.write(data)]);
      },
    });

    synthesis.startMonth(month.name, settings.bytesPerMonth, csvPath);
    let end: MonthEnd;
    let bytes = bytesBefore;
    for (;;) {
      const next = await synthesis.next();
      if (!Buffer.isBuffer(next)) {
        end = next;
        break;
      }
      // the worker gets its credit back only once the chunk is taken in: this is what bounds its lead
      await deflate.write(next);
      synthesis.credit();
      bytes += next.length;
      settings.onProgress?.(bytes);
    }
    const deflated = await deflate.end();
    if (deflated.bytes !== end.bytes) {
      throw new Error(`${month.name}: ${deflated.bytes} bytes deflated of ${end.bytes} bytes of CSV`);
    }

    await gzipFile.write(gzipTrailer(deflated.crc32, deflated.bytes));
    await zipFile.write(
      zip.trailer({
        crc32: deflated.crc32,
        compressedBytes: deflated.deflatedBytes,
        uncompressedBytes: deflated.bytes,
      }),
    );
    await Promise.all(opened.map((file) => file.close()));
    await Promise.all(targets.map((target) => rename(partial(target), target)));
    return [
      { path: names.csv, bytes: end.bytes, md5: end.md5, crc32c: end.crc32c, rows: end.rows },
      gzipFile.digest.file(names.gzip, end.rows),
      zipFile.digest.file(names.zip, end.rows),
    ];
  } catch (error) {
    // the worker may still be writing the CSV: stop it before removing what it wrote
    await synthesis.close();
    await Promise.all(opened.map((file) => file.close().catch(() => undefined)));
    await Promise.all(partials.map((file) => rm(file, { force: true })));
    throw error;
  }
}

/** Writes JSON under a temporary name and renames it, so that a reader never sees half of it. */
async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(partial(file), `${JSON.stringify(value, null, 2)}\n`);
  await rename(partial(file), file);
}

const manifestSchema: z.ZodType<SampleManifest> = z.object({
  seed: z.number(),
  bytesPerMonth: z.number(),
  months: z.array(z.string()),
  generatedAt: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      bytes: z.number().int().nonnegative(),
      md5: z.string(),
      crc32c: z.string(),
      rows: z.number().int().nonnegative(),
    }),
  ),
});

/**
 * The manifest of an earlier run, if it was made with the same settings and still describes what is on disk:
 * every file of the months listed, each with its size, and the Kaggle metadata. Contents are not re-hashed
 * (that would cost as much as generating); a file of the right size but other bytes goes unnoticed.
 */
async function readExistingManifest(settings: Settings): Promise<SampleManifest | undefined> {
  let text: string;
  try {
    text = await readFile(manifestPath(settings.root), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) return undefined;
  const manifest = result.data;

  const months = settings.months.map((month) => month.name);
  if (manifest.seed !== settings.seed || manifest.bytesPerMonth !== settings.bytesPerMonth) return undefined;
  if (manifest.months.join('\n') !== months.join('\n')) return undefined;
  const expected = months.flatMap((month) => Object.values(monthFiles(month)));
  if (manifest.files.map((file) => file.path).join('\n') !== expected.join('\n')) return undefined;

  const sizes = await Promise.all(
    [
      ...manifest.files.map((file) => ({ file: onDisk(settings.root, file.path), bytes: file.bytes })),
      { file: path.join(kaggleDatasetDir(settings.root, KAGGLE_OWNER, KAGGLE_SLUG), 'dataset.json'), bytes: -1 },
    ].map(async ({ file, bytes }) => {
      const stats = await stat(file).catch(() => undefined);
      return stats !== undefined && stats.isFile() && (bytes < 0 || stats.size === bytes);
    }),
  );
  return sizes.every(Boolean) ? manifest : undefined;
}
