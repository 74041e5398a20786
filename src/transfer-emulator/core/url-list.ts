/**
 * The URL list of an HTTP transfer: a TSV file whose first line is exactly `TsvHttpData-1.0` and whose other
 * lines are `URL<TAB>size<TAB>md5`, size in bytes and MD5 as base64 of the 16 bytes. Size and MD5 may be
 * left out (the strict reading of the documentation: either both columns or neither is not required, so each
 * is optional on its own). Only http and https URLs are accepted.
 */

/** One object to copy. */
export interface UrlListEntry {
  url: string;
  size?: number;
  md5?: string;
  /** The line of the list it came from, for error messages. */
  line: number;
}

/** A problem with the list itself: the whole operation fails with it. */
export class UrlListError extends Error {
  override readonly name = 'UrlListError';
}

const HEADER = 'TsvHttpData-1.0';

/** Parses a URL list, or throws a {@link UrlListError} naming the line and what is wrong with it. */
export function parseUrlList(text: string): UrlListEntry[] {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.replace(/^\uFEFF/, '').trim() !== HEADER) {
    throw new UrlListError(`line 1: the URL list must start with "${HEADER}", not ${JSON.stringify(lines[0] ?? '')}`);
  }
  const entries: UrlListEntry[] = [];
  lines.slice(1).forEach((raw, index) => {
    const line = index + 2;
    if (raw.trim() === '') return;
    const [url = '', size, md5, ...extra] = raw.split('\t');
    if (extra.length > 0) throw new UrlListError(`line ${line}: more than three tab-separated columns`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UrlListError(`line ${line}: ${JSON.stringify(url)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new UrlListError(`line ${line}: ${JSON.stringify(url)} is not http:// or https://`);
    }
    const entry: UrlListEntry = { url, line };
    if (size !== undefined && size !== '') {
      if (!/^\d+$/.test(size)) {
        throw new UrlListError(`line ${line}: size ${JSON.stringify(size)} is not a whole number`);
      }
      entry.size = Number(size);
    }
    if (md5 !== undefined && md5 !== '') {
      if (!/^[A-Za-z0-9+/]{22}==$/.test(md5)) {
        throw new UrlListError(`line ${line}: MD5 ${JSON.stringify(md5)} is not base64 of 16 bytes`);
      }
      entry.md5 = md5;
    }
    entries.push(entry);
  });
  return entries;
}

/** The object name a URL lands under: the rule is the product's own, shared so that the two cannot drift. */
export { objectNameFor } from '../../transfer/url-list';
