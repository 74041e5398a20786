/**
 * The few calls of the Kaggle API v1 that source access needs: view a dataset (its current version), list a
 * version's files, and ask for a file's download, which Kaggle answers with a redirect to a time-limited
 * signed Cloud Storage URL. Credentials come from the environment or kaggle.json, as Kaggle's own client
 * finds them; they and the signed URLs never leave this module except inside requests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { failure } from '../failures';
import { expectSuccess, request, type ProbeOptions } from './http';

/** How requests authenticate: HTTP Basic with username and key, or a bearer API token. */
export type KaggleCredentials = { kind: 'basic'; username: string; key: string } | { kind: 'token'; token: string };

/**
 * Finds Kaggle credentials as Kaggle's client does: `KAGGLE_API_TOKEN`, then `KAGGLE_USERNAME` with
 * `KAGGLE_KEY`, then `kaggle.json` in `KAGGLE_CONFIG_DIR`, `~/.kaggle` or `~/.config/kaggle`.
 * Throws MissingCredential, naming where it looked, when there are none.
 */
export function loadKaggleCredentials(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): KaggleCredentials {
  if (env.KAGGLE_API_TOKEN) return { kind: 'token', token: env.KAGGLE_API_TOKEN };
  if (env.KAGGLE_USERNAME && env.KAGGLE_KEY) {
    return { kind: 'basic', username: env.KAGGLE_USERNAME, key: env.KAGGLE_KEY };
  }
  const candidates = env.KAGGLE_CONFIG_DIR
    ? [path.join(env.KAGGLE_CONFIG_DIR, 'kaggle.json')]
    : [
        path.join(home, '.kaggle', 'kaggle.json'),
        path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'kaggle', 'kaggle.json'),
      ];
  for (const file of candidates) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw failure('MissingCredential', `${file} is not valid JSON: it should be {"username": "...", "key": "..."}`);
    }
    const { username, key } = (parsed ?? {}) as { username?: unknown; key?: unknown };
    if (typeof username !== 'string' || typeof key !== 'string' || !username || !key) {
      throw failure('MissingCredential', `${file} lacks "username" or "key"`);
    }
    return { kind: 'basic', username, key };
  }
  throw failure(
    'MissingCredential',
    `no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN) for the worker, ` +
      `or put kaggle.json in ${candidates.join(' or ')}`,
  );
}

/** A file of a dataset version, as the list call gives it. */
export interface KaggleFile {
  name: string;
  /** Bytes of the file itself (the CSV), not of the zip Kaggle serves. */
  totalBytes: number;
  creationDate?: string;
}

/** A client of the Kaggle API v1 for one API base and one set of credentials. */
export class KaggleApi {
  constructor(
    private readonly apiUrl: string,
    private readonly credentials: KaggleCredentials,
    private readonly options: ProbeOptions,
  ) {}

  /** The dataset's current version number. */
  async currentVersion(owner: string, slug: string): Promise<number> {
    const view = await this.json(`datasets/view/${seg(owner)}/${seg(slug)}`, `Kaggle dataset ${owner}/${slug}`);
    const version = (view as { currentVersionNumber?: unknown }).currentVersionNumber;
    if (typeof version !== 'number' || !Number.isInteger(version)) {
      throw failure('SourceUnsuitable', `Kaggle dataset ${owner}/${slug}: the API gave no currentVersionNumber`);
    }
    return version;
  }

  /** The files of a version, following page tokens. */
  async listFiles(owner: string, slug: string, version: number): Promise<KaggleFile[]> {
    const files: KaggleFile[] = [];
    let pageToken: string | undefined;
    const label = `Kaggle dataset ${owner}/${slug} version ${version}`;
    do {
      const query = new URLSearchParams({ datasetVersionNumber: String(version) });
      if (pageToken) query.set('pageToken', pageToken);
      const page = (await this.json(`datasets/list/${seg(owner)}/${seg(slug)}?${query}`, label)) as {
        datasetFiles?: { name?: unknown; totalBytes?: unknown; creationDate?: unknown }[];
        errorMessage?: unknown;
        nextPageToken?: unknown;
      };
      if (typeof page.errorMessage === 'string' && page.errorMessage) {
        throw failure('SourceNotFound', `${label}: ${page.errorMessage}`);
      }
      for (const file of page.datasetFiles ?? []) {
        if (typeof file.name !== 'string' || typeof file.totalBytes !== 'number') continue;
        files.push({
          name: file.name,
          totalBytes: file.totalBytes,
          creationDate: typeof file.creationDate === 'string' ? file.creationDate : undefined,
        });
      }
      pageToken = typeof page.nextPageToken === 'string' && page.nextPageToken ? page.nextPageToken : undefined;
    } while (pageToken);
    return files;
  }

  /** The stable, secret-free URL of a file's download call. */
  downloadUrl(owner: string, slug: string, file: string, version: number): string {
    return `${this.apiUrl}/datasets/download/${seg(owner)}/${seg(slug)}/${seg(file)}?datasetVersionNumber=${version}`;
  }

  /** Asks for a file's download and returns the signed URL it redirects to: a secret, valid for a while. */
  async signedUrl(owner: string, slug: string, file: string, version: number): Promise<string> {
    const url = this.downloadUrl(owner, slug, file, version);
    const label = `Kaggle file ${owner}/${slug}/${file} version ${version}`;
    const response = await request(url, label, 'GET', this.authHeaders(), { ...this.options, redirect: 'manual' });
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) return new URL(location, url).toString();
    this.expectApiSuccess(response, url, label);
    throw failure('SourceUnsuitable', `${label}: the download call answered ${response.status} without a redirect`);
  }

  private async json(relative: string, label: string): Promise<unknown> {
    const url = `${this.apiUrl}/${relative}`;
    const response = await request(url, label, 'GET', this.authHeaders(), this.options);
    this.expectApiSuccess(response, url, label);
    try {
      return await response.json();
    } catch {
      throw failure('SourceUnavailable', `${label}: the Kaggle API answered with a body that is not JSON`);
    }
  }

  private expectApiSuccess(response: Response, url: string, label: string): void {
    if (response.status === 401) {
      throw failure('SourceForbidden', `${label}: the Kaggle API refused the credentials (HTTP 401)`, {
        status: 401,
      });
    }
    expectSuccess(response, url, label);
  }

  private authHeaders(): Record<string, string> {
    const { credentials } = this;
    const authorization =
      credentials.kind === 'token'
        ? `Bearer ${credentials.token}`
        : `Basic ${Buffer.from(`${credentials.username}:${credentials.key}`).toString('base64')}`;
    return { authorization, accept: 'application/json' };
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}
