/**
 * The local HTTP origin: a download server for the dataset sample, shaped like the real sources, so that the
 * whole collection runs end to end on one machine.
 *
 * - `/datasets/...` serves `<root>/datasets/...` as nginx serves REES46's files (ETag, Last-Modified, ranges).
 * - `/api/v1/...` stands in for Kaggle's API ({@link handleKaggle}), when Kaggle credentials are configured.
 * - `/storage/...` serves the signed URLs that Kaggle's downloads redirect to, as Cloud Storage would.
 * - `/robots.txt` allows everything (Storage Transfer Service honours robots.txt); `/healthz` answers `ok`.
 * - `/_admin/faults` sets and clears injected faults ({@link FaultTable}).
 *
 * The access log has one line per request and leaves out query strings, which carry signatures.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_FAULTS_PATH, handleFaultsAdmin } from './admin';
import { ChecksumCache } from './checksums';
import { type Exchange, sendText, toExchange } from './exchange';
import { type Fault, FaultTable } from './faults';
import {
  contentTypeFor,
  decodeSegments,
  nginxEtag,
  openRegularFile,
  resolveUnder,
  type ServeOptions,
  serveFile,
  wholeSeconds,
} from './files';
import { handleKaggle, KAGGLE_API_PREFIX, type KaggleContext } from './kaggle';
import { MAX_TTL_SECONDS, UrlSigner } from './signing';
import { handleStorage, STORAGE_PREFIX, type StorageContext } from './storage';

export { type Fault, FaultError, FaultTable, type ListedFault } from './faults';

/** How to start the origin. */
export interface OriginOptions {
  /** The sample root: the folder laid out as `src/sample/layout.ts` describes. */
  root: string;
  /** The address to bind, and only that one. Default `127.0.0.1`. */
  host?: string;
  /** The port; 0 (the default) picks a free one. */
  port?: number;
  /** Credentials of the Kaggle API stand-in; without them `/api/v1` answers 404. */
  kaggle?: { username: string; key: string };
  /** The secret that signs download URLs; random by default, so URLs die with the process. */
  signingSecret?: string;
  /** How long a signed download URL stays valid. Default three days, as Kaggle's. */
  signedUrlTtlSeconds?: number;
  /** The base URL that links and redirects use, when clients reach the origin by another name. */
  publicBaseUrl?: string;
  /** Receives one access log line per request. */
  log?: (line: string) => void;
}

/** A running origin. */
export interface Origin {
  /** The base URL it listens on, e.g. `http://127.0.0.1:8090`. */
  readonly url: string;
  /** The port it listens on (the one picked, when 0 was asked for). */
  readonly port: number;
  /** The injected faults, off until set. */
  readonly faults: FaultTable;
  /** Stops listening and closes every connection, idle or active. */
  close(): Promise<void>;
}

const DEFAULT_TTL_SECONDS = 259_200;
const ROBOTS_TXT = 'User-agent: *\nAllow: /\n';

interface Context {
  root: string;
  faults: FaultTable;
  storage: StorageContext;
  kaggle: KaggleContext | null;
  /** Aborted on close, so that delayed answers do not keep the process alive. */
  closing: AbortSignal;
}

/** Starts the origin and resolves once it listens. */
export async function startOrigin(options: OriginOptions): Promise<Origin> {
  const root = path.resolve(options.root);
  const host = options.host ?? '127.0.0.1';
  const ttl = options.signedUrlTtlSeconds ?? DEFAULT_TTL_SECONDS;
  validateOptions(options, ttl);
  if (!(await stat(root)).isDirectory()) throw new Error(`origin root ${root} is not a folder`);

  const signer = new UrlSigner(options.signingSecret ?? randomBytes(32).toString('hex'), ttl);
  const faults = new FaultTable();
  const closing = new AbortController();
  const ctx: Context = {
    root,
    faults,
    storage: { root, signer, checksums: new ChecksumCache() },
    kaggle: null,
    closing: closing.signal,
  };
  const log = options.log;

  const server = createServer((req, res) => void answer(req, res, ctx, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const baseUrl = (options.publicBaseUrl ?? url).replace(/\/+$/, '');
  if (options.kaggle) {
    ctx.kaggle = { root, username: options.kaggle.username, key: options.kaggle.key, signer, baseUrl };
  }

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve, reject) => {
      closing.abort();
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
    return closed;
  };
  return { url, port, faults, close };
}

function validateOptions(options: OriginOptions, ttl: number): void {
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536)) {
    throw new Error(`origin port ${options.port} is not a port number`);
  }
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw new Error(`signedUrlTtlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  if (options.kaggle && (!options.kaggle.username || !options.kaggle.key)) {
    throw new Error('kaggle credentials need a username and a key');
  }
  if (options.signingSecret !== undefined && options.signingSecret.length < 16) {
    throw new Error('signingSecret must be at least 16 characters');
  }
  if (options.publicBaseUrl !== undefined && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(options.publicBaseUrl)) {
    throw new Error(`publicBaseUrl ${options.publicBaseUrl} is not an http(s) URL without query`);
  }
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  log: ((line: string) => void) | undefined,
): Promise<void> {
  const started = performance.now();
  const ex = toExchange(req, res);
  if (!ex) {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    res.end('Bad Request\n');
    return;
  }
  if (log) {
    res.once('close', () => {
      const ms = Math.round(performance.now() - started);
      // statusCode reads 200 before anything is sent: a client that left first must not look served
      const status = res.headersSent ? String(res.statusCode) : '-';
      const aborted = res.writableFinished ? '' : ' aborted';
      log(`${ex.method} ${ex.path} ${status} bytes=${ex.bytes} ms=${ms}${aborted}`);
    });
  }

  try {
    await route(ex, ctx);
  } catch (error) {
    if (res.headersSent) {
      res.destroy();
    } else {
      sendText(ex, 500, `Internal Server Error: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

async function route(ex: Exchange, ctx: Context): Promise<void> {
  if (ex.path === ADMIN_FAULTS_PATH) {
    await handleFaultsAdmin(ex, ctx.faults);
    return;
  }

  const fault = ctx.faults.take(ex.path);
  if (fault && !(await applyFault(ex, ctx, fault))) return;
  const serve: ServeOptions = {
    omitContentLength: fault?.omitContentLength,
    ignoreRange: fault?.ignoreRange,
    dropAfterBytes: fault?.dropAfterBytes,
  };

  if (ex.path === '/healthz') {
    if (allowRead(ex)) sendText(ex, 200, 'ok');
  } else if (ex.path === '/robots.txt') {
    if (allowRead(ex)) sendText(ex, 200, ROBOTS_TXT.trimEnd());
  } else if (ex.path.startsWith('/datasets/')) {
    if (allowRead(ex)) await serveDatasetFile(ex, ctx.root, serve);
  } else if (ex.path.startsWith(STORAGE_PREFIX)) {
    await handleStorage(ex, ctx.storage, serve);
  } else if (ctx.kaggle && (ex.path === KAGGLE_API_PREFIX || ex.path.startsWith(`${KAGGLE_API_PREFIX}/`))) {
    await handleKaggle(ex, ctx.kaggle);
  } else {
    sendText(ex, 404, 'Not Found');
  }
}

/** Delays and replaces the answer as the fault says; false when the answer is given (or the client left). */
async function applyFault(ex: Exchange, ctx: Context, fault: Fault): Promise<boolean> {
  if (fault.delayMs) {
    try {
      await sleep(fault.delayMs, undefined, { signal: ctx.closing });
    } catch {
      return false;
    }
    if (ex.res.destroyed) return false;
  }
  if (fault.status !== undefined) {
    sendText(ex, fault.status, `injected fault: status ${fault.status}`);
    return false;
  }
  return true;
}

function allowRead(ex: Exchange): boolean {
  if (ex.method === 'GET' || ex.method === 'HEAD') return true;
  sendText(ex, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
  return false;
}

async function serveDatasetFile(ex: Exchange, root: string, options: ServeOptions): Promise<void> {
  // the path starts with /datasets/, so the first segment is 'datasets' and the file lies under <root>/datasets
  const segments = decodeSegments(ex.path.split('/').slice(2));
  const file = segments && resolveUnder(path.join(root, 'datasets'), segments);
  if (!file) {
    sendText(ex, 400, 'Bad Request: the path is not a plain path under /datasets/');
    return;
  }
  const opened = await openRegularFile(file);
  if (!opened) {
    sendText(ex, 404, 'Not Found');
    return;
  }
  await serveFile(
    ex,
    opened,
    {
      size: opened.size,
      etag: nginxEtag(opened.size, opened.mtimeMs),
      lastModified: wholeSeconds(opened.mtimeMs),
      contentType: contentTypeFor(file),
      headers: {},
    },
    options,
  );
}
