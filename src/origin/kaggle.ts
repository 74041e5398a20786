/**
 * A stand-in for the few endpoints of Kaggle's API v1 that collecting a dataset uses: list a dataset's files,
 * view its metadata, and download a file, which (as on Kaggle) answers 302 to a time-limited signed URL of
 * the file's zip. Authentication is HTTP Basic with username and key, or a bearer token carrying the key,
 * as Kaggle's clients send them.
 *
 * The data comes from `<root>/kaggle/<owner>/<slug>/dataset.json` ({@link KaggleDatasetRecord}), read on each
 * request so that a regenerated sample is served at once, and from the zips in its `<version>/` folders.
 * The record lists the files of the current version; an older version offers those of its files whose zip
 * is present in its folder.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type KaggleDatasetRecord, kaggleDatasetDir } from '../sample/layout';
import { type Exchange, send, sendJson } from './exchange';
import { decodeSegments } from './files';
import { type UrlSigner } from './signing';
import { kaggleObjectPath } from './storage';

/** The URL prefix of the Kaggle API. */
export const KAGGLE_API_PREFIX = '/api/v1';

/** What the Kaggle API handler needs. */
export interface KaggleContext {
  root: string;
  username: string;
  key: string;
  signer: UrlSigner;
  /** The origin's base URL for links, without a trailing slash. */
  baseUrl: string;
}

/** A file of a dataset, as the list and view endpoints describe it. */
export interface KaggleDatasetFile {
  ref: string;
  datasetRef: string;
  ownerRef: string;
  name: string;
  creationDate: string;
  description: string;
  fileType: string;
  url: string;
  totalBytes: number;
  columns: never[];
}

type RecordFile = KaggleDatasetRecord['files'][number];

/** Answers a request under {@link KAGGLE_API_PREFIX}. */
export async function handleKaggle(ex: Exchange, ctx: KaggleContext): Promise<void> {
  if (!authorized(ex.req.headers.authorization, ctx)) {
    const message = 'Unauthenticated: send HTTP Basic credentials (username and API key) or a bearer token';
    sendJson(ex, 401, { code: 401, message }, { 'WWW-Authenticate': 'Basic realm="kaggle"' });
    return;
  }
  if (ex.method !== 'GET') {
    sendJson(ex, 405, { code: 405, message: 'Method not allowed' }, { Allow: 'GET' });
    return;
  }

  const segments = decodeSegments(ex.path.slice(KAGGLE_API_PREFIX.length + 1).split('/'));
  const [group, action, owner, slug, file, ...rest] = segments ?? [];
  if (group !== 'datasets' || owner === undefined || slug === undefined || rest.length > 0) {
    notFound(ex, `No such endpoint: ${ex.path}`);
    return;
  }
  if (action === 'download' && file === undefined) {
    notFound(ex, 'Downloading a whole dataset is not offered here: download its files one by one');
    return;
  }
  if ((action === 'list' || action === 'view') && file !== undefined) {
    notFound(ex, `No such endpoint: ${ex.path}`);
    return;
  }
  if (action !== 'list' && action !== 'view' && action !== 'download') {
    notFound(ex, `No such endpoint: ${ex.path}`);
    return;
  }

  const record = await loadRecord(ctx.root, owner, slug);
  if (!record) {
    notFound(ex, `Dataset not found: ${owner}/${slug}`);
    return;
  }
  const dataset = { ctx, owner, slug, record };

  if (action === 'view') {
    sendJson(ex, 200, await viewOf(dataset));
    return;
  }
  const version = requestedVersion(ex, record);
  if (version === null) return;
  const files = await filesOf(dataset, version);

  if (action === 'list') {
    const datasetFiles = files.map((entry) => describeFile(dataset, entry));
    sendJson(ex, 200, { datasetFiles, errorMessage: null, nextPageToken: null });
    return;
  }
  const entry = files.find((candidate) => candidate.name === file);
  if (!entry || !(await isFile(path.join(kaggleDatasetDir(ctx.root, owner, slug), String(version), entry.zip)))) {
    notFound(ex, `File not found: ${file ?? ''} in ${owner}/${slug} version ${version}`);
    return;
  }
  const objectPath = kaggleObjectPath(owner, slug, version, entry.zip);
  send(ex, 302, {
    Location: `${ctx.baseUrl}${objectPath}?${ctx.signer.sign(objectPath)}`,
    'Cache-Control': 'no-store',
  });
}

interface Dataset {
  ctx: KaggleContext;
  owner: string;
  slug: string;
  record: KaggleDatasetRecord;
}

function notFound(ex: Exchange, message: string): void {
  sendJson(ex, 404, { code: 404, message });
}

/** Basic `username:key` or `Bearer <key>`, compared in constant time. */
function authorized(header: string | undefined, ctx: KaggleContext): boolean {
  const match = /^(\S+)\s+(\S+)\s*$/.exec(header ?? '');
  if (!match || match[1] === undefined || match[2] === undefined) return false;
  const scheme = match[1].toLowerCase();
  if (scheme === 'bearer') return sameSecret(match[2], ctx.key);
  if (scheme !== 'basic') return false;

  const decoded = Buffer.from(match[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // both compared, always, so that timing does not tell which of the two was wrong
  const user = sameSecret(decoded.slice(0, colon), ctx.username);
  const key = sameSecret(decoded.slice(colon + 1), ctx.key);
  return user && key;
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The version asked for with `?datasetVersionNumber=`, the current one without; null once an error is sent. */
function requestedVersion(ex: Exchange, record: KaggleDatasetRecord): number | null {
  const asked = ex.query.get('datasetVersionNumber');
  if (asked === null || asked === '') return record.currentVersionNumber;
  if (!/^[1-9][0-9]{0,8}$/.test(asked)) {
    sendJson(ex, 400, { code: 400, message: 'datasetVersionNumber must be a positive integer' });
    return null;
  }
  const version = Number(asked);
  const known = version === record.currentVersionNumber || record.versions.some((v) => v.versionNumber === version);
  if (!known) {
    notFound(ex, `Version ${version} of ${record.ownerSlug}/${record.datasetSlug} not found`);
    return null;
  }
  return version;
}

async function filesOf(dataset: Dataset, version: number): Promise<RecordFile[]> {
  const { record } = dataset;
  if (version === record.currentVersionNumber) return record.files;
  const folder = path.join(kaggleDatasetDir(dataset.ctx.root, dataset.owner, dataset.slug), String(version));
  const present = await Promise.all(record.files.map((entry) => isFile(path.join(folder, entry.zip))));
  return record.files.filter((_, index) => present[index]);
}

function describeFile(dataset: Dataset, entry: RecordFile): KaggleDatasetFile {
  const { owner, slug, record, ctx } = dataset;
  const datasetRef = `${record.ownerSlug}/${record.datasetSlug}`;
  const download = [owner, slug, entry.name].map(encodeURIComponent).join('/');
  return {
    ref: entry.name,
    datasetRef,
    ownerRef: record.ownerSlug,
    name: entry.name,
    creationDate: entry.creationDate,
    description: '',
    fileType: path.extname(entry.name),
    url: `${ctx.baseUrl}${KAGGLE_API_PREFIX}/datasets/download/${download}`,
    totalBytes: entry.totalBytes,
    columns: [],
  };
}

async function viewOf(dataset: Dataset): Promise<Record<string, unknown>> {
  const { record } = dataset;
  const ref = `${record.ownerSlug}/${record.datasetSlug}`;
  return {
    // Kaggle's ids are integers; this one only needs to be stable for the same dataset
    id: createHash('md5').update(ref).digest().readUInt32BE(0) >>> 1,
    ref,
    ownerName: record.ownerSlug,
    ownerRef: record.ownerSlug,
    title: record.title,
    subtitle: '',
    url: `https://www.kaggle.com/datasets/${ref}`,
    currentVersionNumber: record.currentVersionNumber,
    totalBytes: record.files.reduce((sum, entry) => sum + entry.totalBytes, 0),
    lastUpdated: record.lastUpdated,
    licenseName: record.licenseName,
    isPrivate: false,
    files: (await filesOf(dataset, record.currentVersionNumber)).map((entry) => describeFile(dataset, entry)),
    versions: [...record.versions]
      .sort((a, b) => b.versionNumber - a.versionNumber)
      .map((version) => ({
        versionNumber: version.versionNumber,
        creationDate: version.creationDate,
        creatorName: record.ownerSlug,
        status: 'Ready',
        versionNotes: version.versionNotes,
      })),
  };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The dataset's record, or null when there is none; a record that is not valid is an error of the sample. */
async function loadRecord(root: string, owner: string, slug: string): Promise<KaggleDatasetRecord | null> {
  let text: string;
  try {
    text = await readFile(path.join(kaggleDatasetDir(root, owner, slug), 'dataset.json'), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
  const value: unknown = JSON.parse(text);
  const problem = recordProblem(value);
  if (problem) throw new Error(`${owner}/${slug}/dataset.json: ${problem}`);
  return value as KaggleDatasetRecord;
}

/** What is wrong with a parsed dataset.json, or null when it is a valid {@link KaggleDatasetRecord}. */
function recordProblem(value: unknown): string | null {
  if (!isObject(value)) return 'not an object';
  for (const field of ['ownerSlug', 'datasetSlug', 'title', 'licenseName', 'lastUpdated'] as const) {
    if (typeof value[field] !== 'string') return `${field} must be a string`;
  }
  if (!isPositiveInteger(value.currentVersionNumber)) return 'currentVersionNumber must be a positive integer';
  if (!Array.isArray(value.versions)) return 'versions must be an array';
  for (const version of value.versions as unknown[]) {
    if (
      !isObject(version) ||
      !isPositiveInteger(version.versionNumber) ||
      typeof version.creationDate !== 'string' ||
      typeof version.versionNotes !== 'string'
    ) {
      return 'each version needs versionNumber, creationDate and versionNotes';
    }
  }
  if (!Array.isArray(value.files)) return 'files must be an array';
  for (const file of value.files as unknown[]) {
    if (
      !isObject(file) ||
      typeof file.name !== 'string' ||
      typeof file.creationDate !== 'string' ||
      typeof file.totalBytes !== 'number' ||
      typeof file.zip !== 'string'
    ) {
      return 'each file needs name, totalBytes, creationDate and zip';
    }
    // the zip is looked up on disk by this name: it must stay a plain name inside the version folder
    if (decodeSegments([encodeURIComponent(file.zip)]) === null || file.zip === '') {
      return `file ${file.name}: zip must be a plain file name`;
    }
  }
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}
