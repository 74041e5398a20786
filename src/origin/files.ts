/**
 * Files over HTTP, the way a download client expects from nginx or Cloud Storage: validators (ETag,
 * Last-Modified), conditional requests (RFC 9110 §13), single byte ranges (§14) and HEAD. Bodies are streamed
 * from an open file handle, so the size and validators announced come from the same file as the bytes sent,
 * even when the file is replaced meanwhile, and a file is never read whole into memory.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { type OutgoingHttpHeaders } from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { combineRanges, parse as parseRange } from 'range-parser';
import { type Exchange, sendText } from './exchange';

/** How a file is presented: its size, validators and the headers that describe it. */
export interface Representation {
  size: number;
  /** A strong entity tag, quotes included. */
  etag: string;
  /** The modification time, whole seconds (HTTP dates have no finer precision). */
  lastModified: Date;
  contentType: string;
  /** Headers sent on 200, 206 and HEAD answers besides the standard ones (e.g. `x-goog-hash`). */
  headers: OutgoingHttpHeaders;
}

/** Deviations from a well-behaved answer, asked for by fault injection. */
export interface ServeOptions {
  /** Stream without Content-Length (chunked on GET, no length at all on HEAD). */
  omitContentLength?: boolean;
  /** Answer a Range request with the whole file and announce no range support. */
  ignoreRange?: boolean;
  /** Send this many bytes of the body, then drop the connection. */
  dropAfterBytes?: number;
}

/** A regular file opened for reading, with its metadata taken from the same handle. */
export interface OpenedFile {
  handle: FileHandle;
  size: number;
  mtimeMs: number;
}

// longer Range headers are ignored rather than parsed: no honest client needs that many ranges
const MAX_RANGE_HEADER = 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.gz': 'application/gzip',
  '.csv': 'text/csv',
  '.zip': 'application/zip',
  '.json': 'application/json',
};

/** The Content-Type of a file name, by extension. */
export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** nginx's entity tag: the modification time in seconds and the size, both in hex. */
export function nginxEtag(size: number, mtimeMs: number): string {
  return `"${Math.floor(mtimeMs / 1000).toString(16)}-${size.toString(16)}"`;
}

/** A modification time rounded down to whole seconds, as Last-Modified and If-Modified-Since compare it. */
export function wholeSeconds(mtimeMs: number): Date {
  return new Date(Math.floor(mtimeMs / 1000) * 1000);
}

/**
 * Decodes percent-encoded path segments, or returns null when one is unsafe to map onto the file system:
 * malformed encoding, `.` or `..` (raw or encoded), or a slash, backslash or NUL hidden in an encoding.
 */
export function decodeSegments(raw: readonly string[]): string[] | null {
  const decoded: string[] = [];
  for (const segment of raw) {
    let value: string;
    try {
      value = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (value === '.' || value === '..' || /[/\\\0]/.test(value)) return null;
    decoded.push(value);
  }
  return decoded;
}

/** Joins decoded segments under a base folder, or returns null if the result would leave it. */
export function resolveUnder(base: string, segments: readonly string[]): string | null {
  const root = path.resolve(base);
  const file = path.resolve(root, ...segments);
  // decodeSegments already refuses traversal: this is the second lock on the same door
  return file.startsWith(root + path.sep) ? file : null;
}

/** Opens a regular file, or returns null when there is none at that path (a folder counts as none). */
export async function openRegularFile(file: string): Promise<OpenedFile | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      return null;
    }
    return { handle, size: stat.size, mtimeMs: stat.mtimeMs };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG';
}

/**
 * Answers a GET or HEAD for an opened file: 304 or 412 for conditional requests, 416 for an unsatisfiable
 * range, 206 for one satisfiable range, 200 otherwise. Takes ownership of the file handle and closes it.
 */
export async function serveFile(
  ex: Exchange,
  file: OpenedFile,
  rep: Representation,
  options: ServeOptions = {},
): Promise<void> {
  const validators = { ETag: rep.etag, 'Last-Modified': rep.lastModified.toUTCString() };

  const precondition = evaluatePreconditions(ex, rep);
  if (precondition !== 'proceed') {
    await file.handle.close();
    if (precondition === 304) {
      ex.res.writeHead(304, validators);
      ex.res.end();
    } else {
      sendText(ex, 412, 'Precondition Failed', validators);
    }
    return;
  }

  const range = options.ignoreRange ? null : selectRange(ex, rep);
  if (range === 'unsatisfiable') {
    await file.handle.close();
    sendText(ex, 416, 'Range Not Satisfiable', { 'Content-Range': `bytes */${rep.size}`, ...validators });
    return;
  }

  const start = range?.start ?? 0;
  const end = range?.end ?? rep.size - 1;
  const length = end - start + 1;
  const headers: OutgoingHttpHeaders = { 'Content-Type': rep.contentType, ...validators, ...rep.headers };
  if (!options.ignoreRange) headers['Accept-Ranges'] = 'bytes';
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${rep.size}`;
  if (!options.omitContentLength) headers['Content-Length'] = length;
  else if (ex.method === 'GET') headers['Transfer-Encoding'] = 'chunked';
  ex.res.writeHead(range ? 206 : 200, headers);

  if (ex.method === 'HEAD' || length === 0) {
    await file.handle.close();
    ex.res.end();
    return;
  }
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      ex.bytes += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    if (options.dropAfterBytes !== undefined) {
      // the headers promised more: cutting the connection after part of the body is what a dropped link does
      const last = Math.min(end, start + options.dropAfterBytes - 1);
      if (last >= start) {
        for await (const chunk of file.handle.createReadStream({ start, end: last })) {
          ex.bytes += (chunk as Buffer).length;
          if (!ex.res.write(chunk)) await new Promise((resolve) => ex.res.once('drain', resolve));
        }
      } else {
        await file.handle.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      ex.res.socket?.destroy();
      return;
    }
    await pipeline(file.handle.createReadStream({ start, end }), counter, ex.res);
  } catch {
    // the client went away or the file failed mid-way: the status is sent, so the short body is the signal
    ex.res.destroy();
  }
}

type Precondition = 'proceed' | 304 | 412;

/** RFC 9110 §13.2.2: the order in which the preconditions are evaluated. */
function evaluatePreconditions(ex: Exchange, rep: Representation): Precondition {
  const headers = ex.req.headers;
  const modified = rep.lastModified.getTime();

  if (headers['if-match'] !== undefined) {
    if (!matchesAny(headers['if-match'], rep.etag, true)) return 412;
  } else if (headers['if-unmodified-since'] !== undefined) {
    const since = Date.parse(headers['if-unmodified-since']);
    if (!Number.isNaN(since) && modified > since) return 412;
  }

  if (headers['if-none-match'] !== undefined) {
    if (matchesAny(headers['if-none-match'], rep.etag, false)) return 304;
  } else if (headers['if-modified-since'] !== undefined) {
    const since = Date.parse(headers['if-modified-since']);
    if (!Number.isNaN(since) && modified <= since) return 304;
  }
  return 'proceed';
}

/** Whether a list of entity tags (or `*`) matches ours, by strong or weak comparison (RFC 9110 §8.8.3.2). */
function matchesAny(list: string, etag: string, strong: boolean): boolean {
  if (list.trim() === '*') return true;
  for (const match of list.matchAll(/(W\/)?("[^"]*")/g)) {
    const weak = match[1] !== undefined;
    if (strong && weak) continue;
    if (match[2] === etag) return true;
  }
  return false;
}

type RangeChoice = { start: number; end: number } | 'unsatisfiable' | null;

/** The single range to send, 'unsatisfiable', or null for the whole file. */
function selectRange(ex: Exchange, rep: Representation): RangeChoice {
  const header = ex.req.headers.range;
  if (header === undefined || header.length > MAX_RANGE_HEADER) return null;
  // an empty file has no satisfiable range at all; sending it whole is what clients cope with best
  if (rep.size === 0) return null;
  // If-Range is not among Node's known headers, so it may arrive as a list: a repeated one cannot match
  const ifRange = ex.req.headers['if-range'];
  if (ifRange !== undefined && (typeof ifRange !== 'string' || !ifRangeMatches(ifRange, rep))) return null;

  const parsed = parseRange(rep.size, header);
  // RFC 9110 §14.2 lets a server ignore a Range it cannot parse, or one in another unit
  if (parsed.type !== 'bytes' || (parsed.code & 1) !== 0) return null;
  if (parsed.ranges.length === 0) return 'unsatisfiable';
  const ranges = combineRanges(parsed.ranges);
  // Several ranges: RFC 9110 §14.2 also lets a server ignore the Range header and send the whole
  // representation with 200, which spares a multipart/byteranges body that no downloader of ours asks for.
  if (ranges.length !== 1 || ranges[0] === undefined) return null;
  return { start: ranges[0].start, end: ranges[0].end };
}

/** If-Range (RFC 9110 §13.1.5): a strong entity tag or the exact Last-Modified date. */
function ifRangeMatches(value: string, rep: Representation): boolean {
  const trimmed = value.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith('W/')) return trimmed === rep.etag;
  const date = Date.parse(trimmed);
  return !Number.isNaN(date) && date === rep.lastModified.getTime();
}
